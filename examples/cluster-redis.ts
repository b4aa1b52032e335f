/**
 * Several servers, one scheduler, on Redis. Start this file two or three
 * times (each on its own port): every job fires once per fire in the whole
 * fleet, on whichever instance claims it first. Stop one (Ctrl-C, or kill -9)
 * and the others carry on; /jobs on any of them shows the fleet.
 *
 *   npm run example                                    # compiles every example into .examples/
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=3001 node .examples/cluster-redis.js
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=3002 node .examples/cluster-redis.js
 *   curl localhost:3001/jobs                           # lastRun.instanceId: who ran it; instances: the fleet
 *
 * Keys live under the hash tag {fastify-scheduler} (one Redis Cluster slot).
 * Across a Redis failover the guarantee weakens to at-least-once (see README).
 */
import Fastify from 'fastify'
import scheduler from 'fastify-scheduler'
import { redisStore } from 'fastify-scheduler/redis'

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })

await app.register(scheduler, {
  store: redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
  // Names this process in lastRun.instanceId and /jobs' instances (default: a random UUID).
  instanceId: `${process.env.INSTANCE ?? 'web'}-${process.pid}`,
  jobs: [
    {
      id: 'tick',
      trigger: { cron: '*/5 * * * * *' }, // every 5 seconds: once in the fleet, not once per server
      handler: (ctx) => { ctx.log.info({ scheduledAt: ctx.scheduledAt }, 'tick: this instance won the fire') }
    },
    {
      id: 'nightly-report',
      trigger: { cron: '0 3 * * *', timezone: 'Europe/Berlin' },
      onLost: 'rerun', // if the instance running it dies, another runs it once more
      handler: async (ctx) => { ctx.log.info('building the nightly report') }
    }
  ]
})

// Leave the fleet cleanly on Ctrl-C or a deploy's SIGTERM: running jobs drain, the
// instance leaves the store's list at once (a killed one drops out after leaseTime).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}

// app.ready() (and listen()) fail with FST_SCHEDULER_STORE_UNAVAILABLE when Redis can't be reached.
const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
console.log(`\nopen ${address}/jobs (the fleet's jobs and instances); start another copy on another PORT; Ctrl-C stops\n`)
