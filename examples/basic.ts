/**
 * The basics: an interval job, two cron jobs and a one-shot job, and the
 * status routes.
 *
 *   npm run example                  # builds, then starts this on http://127.0.0.1:3000
 *   PORT=8080 HOST=0.0.0.0 npm run example
 *
 *   curl http://127.0.0.1:3000/jobs            # every job: trigger, next run, last run, counts
 *   curl http://127.0.0.1:3000/jobs/heartbeat  # one job
 */
import Fastify from 'fastify'
import scheduler, { type JobContext } from 'fastify-scheduler'

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })

// Something for the jobs to work on.
const cache = new Map<string, { value: string, expiresAt: number }>()

await app.register(scheduler, {
  // The zone of cron triggers that name none (default: the process's zone).
  timezone: 'UTC',
  jobs: [
    {
      // Every 10 seconds, and once right away (`immediate`), so /jobs shows a
      // lastRun at once. Also: 30_000, 'PT30S', { hours: 1, minutes: 30 }.
      id: 'heartbeat',
      trigger: { interval: { seconds: 10 }, immediate: true },
      handler: (ctx) => {
        ctx.log.info({ uptime: Math.round(process.uptime()) }, 'still alive')
      }
    },
    {
      // Cron with a seconds field (6 fields): at :00, :15, :30 and :45 of every minute.
      id: 'cache-sweep',
      trigger: { cron: '*/15 * * * * *' },
      handler: (ctx) => {
        const now = Date.now()
        let swept = 0
        for (const [key, entry] of cache) {
          if (entry.expiresAt <= now) swept += cache.delete(key) ? 1 : 0
        }
        ctx.log.info({ swept, left: cache.size }, 'cache swept')
      }
    },
    {
      // Weekdays at 06:00 in Berlin, summer time or not; `data` reaches the
      // handler as `ctx.data`, typed by the handler's annotation.
      id: 'weekday-report',
      name: 'Weekday report',
      trigger: { cron: '0 6 * * 1-5', timezone: 'Europe/Berlin' },
      data: { recipients: ['ops@example.com'] },
      timeout: 60_000, // ctx.signal aborts after a minute
      handler: async (ctx: JobContext<{ recipients: string[] }>) => {
        ctx.log.info({ to: ctx.data.recipients }, 'sending the report')
      }
    }
  ]
})

// Jobs can also be added later, from anywhere that has the instance. This one
// fires once, 30 seconds from now; afterwards /jobs shows it with nextRunAt null.
app.scheduler.addJob({
  id: 'welcome',
  trigger: { at: new Date(Date.now() + 30_000) },
  handler: (ctx) => {
    cache.set('greeting', { value: 'hello', expiresAt: Date.now() + 20_000 })
    ctx.log.info('one-shot job: cached a greeting that expires in 20 s')
  }
})

// Jobs start firing when the server is ready (listen() or ready()).
const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
console.log(`\nopen ${address}/jobs (all jobs) or ${address}/jobs/heartbeat (one job); Ctrl-C stops\n`)
