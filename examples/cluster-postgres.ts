/**
 * Several servers, one scheduler, on PostgreSQL. Start this file two or three
 * times (each on its own port): every job fires once per fire in the whole
 * fleet, on whichever instance claims it first. Stop one (Ctrl-C, or kill -9)
 * and the others carry on; /jobs on any of them shows the fleet.
 *
 *   npm run example                                    # compiles every example into .examples/
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PORT=3001 node .examples/cluster-postgres.js
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PORT=3002 node .examples/cluster-postgres.js
 *   curl localhost:3001/jobs                           # lastRun.instanceId: who ran it; instances: the fleet
 *
 * The tables (prefix fastify_scheduler_) are created on first use.
 */
import Fastify from 'fastify'
import scheduler from 'fastify-scheduler'
import { postgresStore } from 'fastify-scheduler/postgres'

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })

await app.register(scheduler, {
  store: postgresStore({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' }),
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

// app.ready() (and listen()) fail with FST_SCHEDULER_STORE_UNAVAILABLE when PostgreSQL can't be reached.
const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
console.log(`\nopen ${address}/jobs (the fleet's jobs and instances); start another copy on another PORT; Ctrl-C stops\n`)
