import t from 'tap'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import fastifyScheduler, { type JobStatus } from '../lib/index.js'
import { build, deferred } from './helpers/app.js'

const MINUTE = 60_000

/** An onRequest hook that wants `authorization: secret`. */
async function auth (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.headers.authorization !== 'secret') await reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'no' })
}

const authorized = { authorization: 'secret' }

t.test('GET /jobs lists the state and every job', async (t) => {
  const { app, clock } = await build({
    jobs: [
      { id: 'report', trigger: { cron: '0 6 * * 1-5', timezone: 'Europe/Berlin' }, handler () {} },
      { id: 'tick', name: 'Tick', trigger: { interval: { minutes: 1 } }, handler: () => 'ok' }
    ]
  })
  t.teardown(() => app.close())
  const res = await app.inject('/jobs')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  const body = res.json<{ state: string, jobs: JobStatus[] }>()
  t.equal(body.state, 'running', 'inject readied the app, which started the scheduler')
  t.same(body.jobs, JSON.parse(JSON.stringify(app.scheduler.getJobs())), 'the body is getJobs() as JSON')
  t.match(body.jobs[0], {
    id: 'report',
    name: 'report',
    trigger: { type: 'cron', expression: '0 6 * * 1-5', timezone: 'Europe/Berlin', description: String },
    paused: false,
    running: 0,
    nextRunAt: '2026-01-05T05:00:00.000Z',
    lastRun: null,
    stats: { runs: 0, successes: 0, failures: 0, missed: 0, skipped: 0 }
  })
  await clock.tick(MINUTE)
  const tick = (await app.inject('/jobs/')).json<{ jobs: JobStatus[] }>().jobs[1]
  t.match(tick.lastRun, { status: 'success', error: null, durationMs: 0, instanceId: app.scheduler.instanceId })
  t.equal(tick.name, 'Tick')
})

t.test('GET /jobs/:id answers the job or 404 in Fastify\'s error format', async (t) => {
  const { app } = await build({ jobs: [{ id: 'Maintenance.vacuum', trigger: { at: '2026-02-01T00:00:00Z' }, handler () {} }] })
  t.teardown(() => app.close())
  const found = await app.inject('/jobs/Maintenance.vacuum')
  t.equal(found.statusCode, 200)
  t.same(found.json(), JSON.parse(JSON.stringify(app.scheduler.getJob('Maintenance.vacuum'))))
  const missing = await app.inject('/jobs/nope')
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { statusCode: 404, code: 'FST_SCHEDULER_JOB_NOT_FOUND', error: 'Not Found', message: 'No job with id "nope"' })
  const encoded = await app.inject('/jobs/a%20b')
  t.equal(encoded.json<{ message: string }>().message, 'No job with id "a b"', 'ids are URL-decoded')
})

t.test('lastRun.error is only { name, message }: no stack, no data, no extra fields', async (t) => {
  const { app } = await build({ autoStart: false })
  t.teardown(() => app.close())
  app.scheduler.addJob({
    id: 'leaky',
    trigger: { interval: MINUTE },
    data: { password: 'hunter2' },
    handler () {
      throw Object.assign(new RangeError('out of range'), { data: { password: 'hunter2' }, sql: 'SELECT secret' })
    }
  })
  await app.scheduler.runJob('leaky')
  const res = await app.inject('/jobs/leaky')
  t.same(res.json<JobStatus>().lastRun?.error, { name: 'RangeError', message: 'out of range' })
  t.notMatch(res.body, /hunter2|SELECT|stack|at Object/)
  const list = await app.inject('/jobs')
  t.notMatch(list.body, /hunter2|SELECT|stack/)
})

t.test('the POST routes do not exist without actions: true', async (t) => {
  const { app } = await build({ jobs: [{ id: 'j', trigger: { interval: MINUTE }, handler () {} }] })
  t.teardown(() => app.close())
  for (const action of ['run', 'pause', 'resume']) {
    const res = await app.inject({ method: 'POST', url: `/jobs/j/${action}` })
    t.equal(res.statusCode, 404)
    t.match(res.json(), { message: `Route POST:/jobs/j/${action} not found` })
  }
  t.equal(app.scheduler.getJob('j')?.stats.runs, 0)
})

t.test('actions: run, pause and resume', async (t) => {
  const gate = deferred()
  const { app, clock } = await build({
    routes: { onRequest: auth, actions: true },
    jobs: [{ id: 'slow', trigger: { interval: MINUTE }, handler: async () => { await gate.promise; return 'done' } }]
  })
  t.teardown(() => app.close())

  const run = await app.inject({ method: 'POST', url: '/jobs/slow/run', headers: authorized })
  t.equal(run.statusCode, 202, 'accepted: answered once the run started, not when it ends')
  const { runId } = run.json<{ runId: string }>()
  t.match(runId, /^[0-9a-f-]{36}$/)
  t.equal(app.scheduler.getJob('slow')?.running, 1)

  const busy = await app.inject({ method: 'POST', url: '/jobs/slow/run', headers: authorized })
  t.equal(busy.statusCode, 409, 'maxInstances runs are going')
  t.same(busy.json(), { statusCode: 409, code: 'FST_SCHEDULER_INVALID_STATE', error: 'Conflict', message: 'Job "slow" is at its maxInstances: 1 run(s) going' })

  gate.resolve()
  await clock.tick(0)
  t.match(app.scheduler.getJob('slow')?.lastRun, { runId, status: 'success' })

  const paused = await app.inject({ method: 'POST', url: '/jobs/slow/pause', headers: authorized })
  t.equal(paused.statusCode, 200)
  t.match(paused.json(), { id: 'slow', paused: true, nextRunAt: null })

  const resumed = await app.inject({ method: 'POST', url: '/jobs/slow/resume', headers: authorized })
  t.equal(resumed.statusCode, 200)
  t.match(resumed.json(), { id: 'slow', paused: false, nextRunAt: new Date(clock.now() + MINUTE).toISOString() })

  for (const action of ['run', 'pause', 'resume']) {
    const res = await app.inject({ method: 'POST', url: `/jobs/nope/${action}`, headers: authorized })
    t.equal(res.statusCode, 404, `${action} of an unknown id`)
    t.same(res.json(), { statusCode: 404, code: 'FST_SCHEDULER_JOB_NOT_FOUND', error: 'Not Found', message: 'No job with id "nope"' })
  }
})

t.test('the hooks guard every route, GET ones included', async (t) => {
  const seen: string[] = []
  const { app } = await build({
    routes: {
      onRequest: [auth],
      preHandler: [async (request) => { seen.push(request.routeOptions.url as string) }],
      actions: true
    },
    jobs: [{ id: 'j', trigger: { interval: MINUTE }, handler () {} }]
  })
  t.teardown(() => app.close())
  const requests = [
    { method: 'GET' as const, url: '/jobs' },
    { method: 'GET' as const, url: '/jobs/j' },
    { method: 'POST' as const, url: '/jobs/j/run' },
    { method: 'POST' as const, url: '/jobs/j/pause' },
    { method: 'POST' as const, url: '/jobs/j/resume' }
  ]
  for (const request of requests) {
    t.equal((await app.inject(request)).statusCode, 401, `${request.method} ${request.url} without credentials`)
  }
  t.equal(app.scheduler.getJob('j')?.stats.runs, 0, 'nothing ran')
  t.same(seen, [], 'preHandler not reached')
  for (const request of requests) {
    t.ok((await app.inject({ ...request, headers: authorized })).statusCode < 300, `${request.method} ${request.url} with credentials`)
  }
  t.same(seen, ['/jobs', '/jobs/:id', '/jobs/:id/run', '/jobs/:id/pause', '/jobs/:id/resume'])
})

t.test('the hooks stay inside the routes plugin', async (t) => {
  const { app } = await build({ routes: { onRequest: auth } })
  t.teardown(() => app.close())
  app.get('/health', async () => ({ ok: true }))
  t.equal((await app.inject('/health')).statusCode, 200, "the app's own routes are not guarded")
  t.equal((await app.inject('/jobs')).statusCode, 401)
})

t.test('allowUnauthenticatedActions exposes the POST routes without a hook', async (t) => {
  const { app } = await build({
    routes: { actions: true, allowUnauthenticatedActions: true },
    jobs: [{ id: 'j', trigger: { interval: MINUTE }, handler () {} }]
  })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/jobs/j/run' })).statusCode, 202)
})

t.test('prefix moves the routes', async (t) => {
  const { app } = await build({ routes: { prefix: '/admin/scheduler', preHandler: auth, actions: true }, jobs: [{ id: 'j', trigger: { interval: MINUTE }, handler () {} }] })
  t.teardown(() => app.close())
  t.equal((await app.inject('/jobs')).statusCode, 404)
  t.equal((await app.inject({ url: '/admin/scheduler', headers: authorized })).statusCode, 200)
  t.equal((await app.inject({ url: '/admin/scheduler/j', headers: authorized })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/admin/scheduler/j/pause', headers: authorized })).statusCode, 200)
})

t.test('routes: false adds no route', async (t) => {
  const { app } = await build({ routes: false, jobs: [{ id: 'j', trigger: { interval: MINUTE }, handler () {} }] })
  t.teardown(() => app.close())
  await app.ready()
  t.equal((await app.inject('/jobs')).statusCode, 404)
  t.equal((await app.inject('/jobs/j')).statusCode, 404)
  t.equal(app.printRoutes(), '(empty tree)')
})

t.test('every route has params and response schemas', async (t) => {
  const app = Fastify()
  const schemas = new Map<string, { params?: unknown, response?: Record<string, unknown> }>()
  app.addHook('onRoute', (route) => { schemas.set(`${String(route.method)} ${route.url}`, route.schema as never) })
  await app.register(fastifyScheduler, { routes: { actions: true, onRequest: auth } })
  await app.ready()
  t.teardown(() => app.close())
  t.same([...schemas.keys()].filter((route) => !route.startsWith('HEAD')), [
    'GET /jobs', 'GET /jobs/:id', 'POST /jobs/:id/run', 'POST /jobs/:id/pause', 'POST /jobs/:id/resume'
  ])
  for (const [route, schema] of schemas) {
    t.ok(schema.response?.['200'] ?? schema.response?.['202'], `${route} has a success response schema`)
    if (route.includes(':id')) {
      t.ok(schema.params, `${route} has a params schema`)
      t.ok(schema.response?.['404'], `${route} documents its 404`)
    }
  }
  t.ok(schemas.get('POST /jobs/:id/run')?.response?.['409'], 'run documents its 409')
})

t.test('a run asked for after close answers 409', async (t) => {
  const { app } = await build({ routes: { actions: true, allowUnauthenticatedActions: true }, jobs: [{ id: 'j', trigger: { interval: MINUTE }, handler () {} }] })
  await app.ready()
  await app.scheduler.shutdown()
  const res = await app.inject({ method: 'POST', url: '/jobs/j/run' })
  t.equal(res.statusCode, 409)
  t.match(res.json(), { code: 'FST_SCHEDULER_INVALID_STATE', message: /shut down/ })
  t.match((await app.inject('/jobs')).json(), { state: 'stopped' }, 'GET still answers')
  await app.close()
})
