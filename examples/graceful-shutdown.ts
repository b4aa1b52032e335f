/**
 * Shutting down while a long job runs. On SIGTERM (what Docker, Kubernetes and
 * systemd send) or SIGINT (Ctrl-C), `app.close()`:
 *   1. stops firing: no new run starts,
 *   2. waits up to `shutdownTimeout` ms for the running runs to finish,
 *   3. then aborts their `ctx.signal`, records them as `aborted`, and finishes closing.
 * A job that hands `ctx.signal` to what it awaits stops right there; the
 * process then exits by itself, because nothing of the scheduler is left running.
 *
 *   npm run example                          # compiles every example into .examples/
 *   node .examples/graceful-shutdown.js      # Ctrl-C while the import runs: it is aborted after 5 s
 *   SHUTDOWN_TIMEOUT=30000 node .examples/graceful-shutdown.js   # Ctrl-C: the import finishes first
 *
 * A second Ctrl-C while closing kills the process at once.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import scheduler, { type JobContext } from 'fastify-scheduler'

const BATCHES = 20
const BATCH_MS = 1_000

// Where the next run resumes. A real app keeps this cursor in its database, so
// an import cut short by a deploy carries on in the next process.
let nextBatch = 0

/** Stands in for real I/O (fetch, a database query) that takes an AbortSignal. */
async function importBatch (batch: number, signal: AbortSignal): Promise<void> {
  await sleep(BATCH_MS, undefined, { signal }) // rejects with an AbortError when the signal aborts
}

async function importAll (ctx: JobContext): Promise<{ imported: number }> {
  let imported = 0
  while (nextBatch < BATCHES) {
    await importBatch(nextBatch, ctx.signal)
    nextBatch += 1
    imported += 1
    ctx.log.info({ batch: nextBatch, of: BATCHES }, 'imported a batch')
  }
  nextBatch = 0
  return { imported } // the result is in the job:success event
}

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })

await app.register(scheduler, {
  shutdownTimeout: Number(process.env.SHUTDOWN_TIMEOUT ?? 5_000),
  jobs: [{ id: 'import', trigger: { interval: { minutes: 1 }, immediate: true }, handler: importAll }]
})

// Once: a second signal gets Node's default handling and ends the process at once.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'closing: no new runs; waiting for the running ones')
    app.close().then(
      () => {
        app.log.info({ lastRun: app.scheduler.getJob('import')?.lastRun }, 'closed')
      },
      (err: unknown) => {
        app.log.error({ err }, 'close failed')
        process.exitCode = 1
      }
    )
  })
}

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
console.log(`\nopen ${address}/jobs/import while it runs (running: 1), then press Ctrl-C\n`)
