/**
 * The status routes behind a bearer token, with the POST actions (run now,
 * pause, resume) turned on. The `onRequest` hook of `routes` runs before every
 * route the plugin adds, and only before those: the rest of the app is not
 * affected. (`actions: true` without a hook fails registration, so the POST
 * routes can't be exposed to everyone by accident.)
 *
 *   npm run example                                    # compiles every example into .examples/
 *   JOBS_TOKEN=s3cret node .examples/protected-routes.js
 *
 *   curl -i http://127.0.0.1:3000/jobs                                      # 401
 *   curl -H 'authorization: Bearer s3cret' http://127.0.0.1:3000/jobs       # 200
 *   curl -X POST -H 'authorization: Bearer s3cret' http://127.0.0.1:3000/jobs/reindex/run    # 202 { runId }
 *   curl -X POST -H 'authorization: Bearer s3cret' http://127.0.0.1:3000/jobs/reindex/pause  # 200, paused
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import scheduler from 'fastify-scheduler'

// The secret comes from the environment; there is no default to forget to change.
const token = process.env.JOBS_TOKEN
if (token === undefined || token === '') {
  console.error('Set JOBS_TOKEN to the bearer token the /jobs routes should accept, e.g. JOBS_TOKEN=s3cret')
  process.exit(1)
}

// Compare digests (equal lengths) in constant time, so the answer's timing
// says nothing about how much of a guess was right.
const digest = (value: string): Buffer => createHash('sha256').update(value).digest()
const expected = digest(token)

function authorized (header: string | undefined): boolean {
  const [scheme, credentials] = (header ?? '').split(' ')
  return scheme.toLowerCase() === 'bearer' && credentials !== undefined && timingSafeEqual(digest(credentials), expected)
}

// An async onRequest hook answers early by sending and returning the reply.
async function requireToken (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (authorized(request.headers.authorization)) return
  // Fastify's error format, like the routes' own 404.
  reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="jobs"')
    .send({ statusCode: 401, error: 'Unauthorized', message: 'A valid bearer token is required' })
  return reply
}

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })

await app.register(scheduler, {
  routes: { prefix: '/jobs', actions: true, onRequest: requireToken },
  jobs: [
    {
      // Nightly; POST /jobs/reindex/run starts a run now, outside the schedule.
      id: 'reindex',
      trigger: { cron: '30 2 * * *', timezone: 'UTC' },
      handler: async (ctx) => {
        ctx.log.info({ scheduledAt: ctx.scheduledAt }, 'search index rebuilt')
      }
    },
    {
      id: 'sync-prices',
      trigger: { interval: { minutes: 5 } },
      handler: (ctx) => { ctx.log.info('prices synced') }
    }
  ]
})

// The rest of the app is not behind the token.
app.get('/health', async () => ({ ok: true }))

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
console.log(`\ncurl -H "authorization: Bearer $JOBS_TOKEN" ${address}/jobs
curl -X POST -H "authorization: Bearer $JOBS_TOKEN" ${address}/jobs/reindex/run
(without the header: 401; ${address}/health is open)\n`)
