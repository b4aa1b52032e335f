import t from 'tap'
import Fastify from 'fastify'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import fastifyScheduler, { type JobContext } from '../lib/index.js'
import { build, deferred } from './helpers/app.js'
import { flush } from './helpers/fake-clock.js'

const MINUTE = 60_000

t.test('starts firing on ready, not before', async (t) => {
  const fired: number[] = []
  const { app, clock } = await build({ jobs: [{ id: 'tick', trigger: { interval: MINUTE }, handler () { fired.push(clock.now()) } }] })
  t.teardown(() => app.close())
  t.equal(app.scheduler.state, 'stopped', 'registered, not started')
  await clock.tick(5 * MINUTE)
  t.same(fired, [], 'no fire before ready')
  t.equal(app.scheduler.getJob('tick')?.nextRunAt, null)
  const readyAt = clock.now()
  await app.ready()
  t.equal(app.scheduler.state, 'running')
  t.equal(app.scheduler.getJob('tick')?.nextRunAt, new Date(readyAt + MINUTE).toISOString(), 'intervals anchored at ready')
  await clock.tick(MINUTE)
  t.same(fired, [readyAt + MINUTE])
})

t.test('inject() readies the app, so it starts the scheduler too', async (t) => {
  const { app } = await build({ routes: false })
  t.teardown(() => app.close())
  await app.inject('/')
  t.equal(app.scheduler.state, 'running')
})

t.test('autoStart: false leaves starting to the user', async (t) => {
  let runs = 0
  const { app, clock } = await build({ autoStart: false, jobs: [{ id: 'tick', trigger: { interval: MINUTE }, handler () { runs++ } }] })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(app.scheduler.state, 'stopped')
  await clock.tick(2 * MINUTE)
  t.equal(runs, 0)
  app.scheduler.start()
  await clock.tick(MINUTE)
  t.equal(runs, 1)
})

t.test('close() waits for running jobs to finish', async (t) => {
  const gate = deferred()
  let signal: AbortSignal | undefined
  const { app, clock } = await build({
    shutdownTimeout: 10 * MINUTE,
    jobs: [{ id: 'slow', trigger: { interval: MINUTE }, handler: async (ctx: JobContext) => { signal = ctx.signal; await gate.promise } }]
  })
  await app.ready()
  await clock.tick(MINUTE)
  t.equal(app.scheduler.getJob('slow')?.running, 1)
  let closed = false
  const closing = app.close().then(() => { closed = true })
  await flush()
  t.equal(app.scheduler.state, 'stopped', 'firing stopped at once')
  await clock.tick(5 * MINUTE)
  t.equal(app.scheduler.getJob('slow')?.stats.runs, 1, 'no new run while draining')
  t.notOk(closed, 'still draining')
  gate.resolve()
  await closing
  t.equal(app.scheduler.getJob('slow')?.lastRun?.status, 'success')
  t.equal(signal?.aborted, false, 'a run that ends in time is not aborted')
  t.equal(clock.pending, 0, 'no timer left')
})

t.test('close() aborts what still runs at shutdownTimeout, then finishes', async (t) => {
  let signal: AbortSignal | undefined
  const { app, clock } = await build({
    shutdownTimeout: 3000,
    // Ignores its signal and never settles: shutdown can't wait for it forever.
    jobs: [{ id: 'stuck', trigger: { interval: MINUTE }, handler: async (ctx: JobContext) => { signal = ctx.signal; await new Promise(() => {}) } }]
  })
  await app.ready()
  await clock.tick(MINUTE)
  let closed = false
  const closing = app.close().then(() => { closed = true })
  while (app.scheduler.state !== 'stopped') await flush()
  await clock.tick(2999)
  t.notOk(closed, 'waits the whole grace period')
  t.equal(signal?.aborted, false)
  await clock.tick(1)
  await closing
  t.equal(signal?.aborted, true, 'the signal is aborted at shutdownTimeout')
  t.equal((signal?.reason as DOMException).name, 'AbortError')
  t.match(app.scheduler.getJob('stuck')?.lastRun, { status: 'aborted', error: { name: 'AbortError' }, durationMs: 3000 })
  t.equal(clock.pending, 0, 'no timer left')
})

t.test('onClose drains even when preClose never ran (the app failed to start)', async (t) => {
  const app = Fastify()
  await app.register(fastifyScheduler, { routes: false })
  app.register(async () => { throw new Error('a later plugin fails') })
  await t.rejects(async () => { await app.ready() }, /a later plugin fails/)
  await app.close()
  t.equal(app.scheduler.state, 'stopped')
  t.throws(() => app.scheduler.start(), { code: 'FST_SCHEDULER_INVALID_STATE' }, 'shut down for good')
})

t.test('close() after a user shutdown() awaits the same drain', async (t) => {
  const { app } = await build()
  await app.ready()
  const first = app.scheduler.shutdown()
  await app.close()
  await first
  t.equal(app.scheduler.state, 'stopped')
})

// ------------------------------------------------------------ child process

const fixture = fileURLToPath(new URL('./fixtures/plugin-shutdown.ts', import.meta.url))

interface Outcome {
  code: number | null
  signal: NodeJS.Signals | null
  result: { status: string, error: { name: string } | null, closeMs: number, closedAt: number }
  exitedAt: number
  stderr: string
}

/**
 * Runs a scenario of test/fixtures/plugin-shutdown.ts in a child with this
 * process's TypeScript loader (not its coverage). The child must exit by itself;
 * if it is still alive `bound` ms after it printed its result, it is killed and
 * the outcome shows the signal.
 */
async function runFixture (scenario: string, bound = 5000): Promise<Outcome> {
  const loaders = process.execArgv.filter((arg) => !arg.includes('processinfo'))
  const env = { ...process.env }
  delete env.NODE_V8_COVERAGE
  const child = spawn(process.execPath, [...loaders, fixture, scenario], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let killer: NodeJS.Timeout | undefined
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    // The result is printed after close(): from now on the child has `bound` ms to exit.
    if (stdout.includes('\n') && killer === undefined) killer = setTimeout(() => child.kill('SIGKILL'), bound)
  })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('exit', (code, signal) => resolve([code, signal]))
  })
  const exitedAt = Date.now()
  clearTimeout(killer)
  return { code, signal, result: JSON.parse(stdout.trim() || '{}') as Outcome['result'], exitedAt, stderr }
}

t.test('a real server: close() drains, aborts, and the process exits on its own', async (t) => {
  t.setTimeout(120_000)
  const [drain, abort, stubborn] = await Promise.all(['drain', 'abort', 'stubborn'].map(async (scenario) => await runFixture(scenario)))

  t.same([drain.code, drain.signal], [0, null], `drain: exits with 0 by itself ${drain.stderr}`)
  t.equal(drain.result.status, 'success', 'drain: the run finished within shutdownTimeout')
  t.ok(drain.result.closeMs < 10_000, 'drain: close() did not wait for the full timeout')

  t.same([abort.code, abort.signal], [0, null], `abort: exits with 0 by itself ${abort.stderr}`)
  t.equal(abort.result.status, 'aborted', 'abort: the run was aborted at shutdownTimeout')
  t.same(abort.result.error, { name: 'AbortError', message: 'Job "long" was aborted at shutdown' })
  t.ok(abort.result.closeMs >= 290, `abort: close() waited for shutdownTimeout (${abort.result.closeMs} ms)`)
  t.ok(abort.exitedAt - abort.result.closedAt < 5000, 'abort: the 60 s timer of the job was released through its signal')

  t.same([stubborn.code, stubborn.signal], [0, null], `stubborn: exits with 0 although the run never settles ${stubborn.stderr}`)
  t.equal(stubborn.result.status, 'aborted')
})
