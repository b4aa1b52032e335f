/**
 * Jobs declared on a class with @Cron, @Interval and @At: standard (TC39)
 * decorators, so no `experimentalDecorators` in tsconfig.json. The object is
 * handed in through `jobs: [...]` (or `app.scheduler.addJobsFrom(object)`),
 * and each decorated method runs with `this` bound to it.
 *
 *   npm run example                 # compiles every example into .examples/ (and starts basic.ts)
 *   node .examples/decorators.js    # then this one; PORT and HOST as in basic.ts
 *   curl http://127.0.0.1:3000/jobs
 */
import Fastify from 'fastify'
import scheduler, { At, Cron, Interval, type JobContext } from 'fastify-scheduler'

/** Stands in for a database client. */
class Database {
  rows = 0
  async query (sql: string, signal: AbortSignal): Promise<number> {
    signal.throwIfAborted()
    this.rows += 1
    return sql.length
  }
}

class Maintenance {
  readonly db: Database
  readonly startedAt = Date.now()

  constructor (db: Database) {
    this.db = db
  }

  // No id given: the job's id is 'Maintenance.heartbeat'.
  @Interval({ seconds: 10 }, { immediate: true })
  heartbeat (ctx: JobContext): void {
    ctx.log.info({ upSeconds: Math.round((Date.now() - this.startedAt) / 1000) }, 'maintenance alive')
  }

  // Every night at 03:00 UTC; every JobDefinition field but trigger and handler
  // goes in the second argument.
  @Cron('0 3 * * *', { id: 'vacuum', timezone: 'UTC', timeout: 10 * 60_000 })
  async vacuum (ctx: JobContext): Promise<void> {
    await this.db.query('VACUUM ANALYZE', ctx.signal) // hand the signal on: a timeout aborts the query
    ctx.log.info('vacuumed')
  }

  // Once, five seconds after the class is defined (i.e. at startup).
  @At(new Date(Date.now() + 5_000), { id: 'warm-up', data: { tables: ['users', 'orders'] } })
  async warmUp (ctx: JobContext<{ tables: string[] }>): Promise<void> {
    for (const table of ctx.data.tables) await this.db.query(`SELECT * FROM ${table} LIMIT 100`, ctx.signal)
    ctx.log.info({ tables: ctx.data.tables }, 'caches warmed up')
  }
}

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
await app.register(scheduler, { jobs: [new Maintenance(new Database())] })

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
console.log(`\nopen ${address}/jobs to see Maintenance.heartbeat, vacuum and warm-up; Ctrl-C stops\n`)
