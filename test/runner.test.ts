import t from 'tap'
import vm from 'node:vm'
import { Run, noopLogger, toError, toRunError, type RunInput } from '../lib/runner.js'
import type { JobContext, RunRecord } from '../lib/job.js'
import { ManualClock, flush } from './helpers/fake-clock.js'
import { recordingLogger } from './helpers/logger.js'

function setup (overrides: Partial<RunInput> = {}): { clock: ManualClock, run: Run, ended: RunRecord[], input: RunInput } {
  const clock = new ManualClock()
  const input: RunInput = {
    id: 'job',
    name: 'The job',
    data: { n: 1 },
    handler: () => 'ok',
    owner: { app: true },
    scheduledAt: new Date(clock.now() - 5),
    timeout: null,
    clock,
    logger: noopLogger,
    ...overrides
  }
  if (overrides.clock === undefined) input.clock = clock
  const ended: RunRecord[] = []
  const run = new Run(input, (record) => ended.push(record))
  return { clock: input.clock as ManualClock, run, ended, input }
}

t.test('builds the context and calls the handler with the owner as this', async (t) => {
  let seen: { ctx: JobContext, self: unknown } | undefined
  const logger = recordingLogger()
  const { run, input, clock } = setup({
    logger,
    handler: function (this: unknown, ctx: JobContext) { seen = { ctx, self: this } }
  })
  run.start()
  if (seen === undefined) throw new Error('handler not called')
  const { ctx, self } = seen
  t.equal(self, input.owner, 'this is the owner')
  t.equal(ctx.fastify, input.owner, 'ctx.fastify is the owner')
  t.equal(ctx.id, 'job')
  t.equal(ctx.name, 'The job')
  t.equal(ctx.data, input.data)
  t.equal(ctx.runId, run.runId)
  t.match(ctx.runId, /^[0-9a-f-]{36}$/, 'a UUID')
  t.equal(ctx.scheduledAt, input.scheduledAt)
  t.equal(ctx.startedAt.getTime(), clock.now())
  t.equal(ctx.signal, run.signal)
  t.equal(ctx.signal.aborted, false)
  ctx.log.info({ a: 1 }, 'hello')
  t.same(logger.lines.at(-1), { level: 'info', bindings: { jobId: 'job', runId: run.runId }, obj: { a: 1 }, msg: 'hello' }, 'ctx.log is a child bound to jobId and runId')
})

t.test('run ids are unique per run', async (t) => {
  const ids = new Set(Array.from({ length: 100 }, () => setup().run.runId))
  t.equal(ids.size, 100)
})

t.test('a sync handler ends the run before start() returns', async (t) => {
  const logger = recordingLogger()
  const { run, ended } = setup({ handler: () => 42, logger })
  run.start()
  t.equal(run.ended, true)
  t.equal(ended.length, 1)
  t.match(ended[0], { status: 'success', result: 42, error: null, cause: null, durationMs: 0 })
  t.same(await run.done, ended[0], 'done resolves with the same record')
  t.match(logger.lines.at(-1), { level: 'debug', msg: 'job succeeded' })
})

t.test('an async handler is awaited; duration comes from the clock', async (t) => {
  let finish!: (value: string) => void
  const { run, ended, clock } = setup({ handler: async () => await new Promise<string>((resolve) => { finish = resolve }) })
  run.start()
  t.equal(run.ended, false)
  await clock.tick(250)
  finish('done')
  const record = await run.done
  t.equal(ended.length, 1)
  t.match(record, { status: 'success', result: 'done', durationMs: 250 })
  t.equal(record.finishedAt.getTime() - record.startedAt.getTime(), 250)
})

t.test('every kind of failing handler is contained and recorded', async (t) => {
  const crossRealm = vm.runInNewContext('new RangeError("from another realm")') as Error
  const nullProto = Object.create(null) as object
  const cases: Array<{ name: string, handler: () => unknown, error: { name: string, message: string } }> = [
    { name: 'sync throw', handler: () => { throw new TypeError('bad') }, error: { name: 'TypeError', message: 'bad' } },
    { name: 'rejection', handler: async () => { throw new RangeError('late') }, error: { name: 'RangeError', message: 'late' } },
    // eslint-disable-next-line no-throw-literal
    { name: "throw 'x'", handler: () => { throw 'x' }, error: { name: 'Error', message: 'x' } },
    // eslint-disable-next-line no-throw-literal
    { name: 'throw undefined', handler: () => { throw undefined }, error: { name: 'Error', message: 'undefined' } },
    // eslint-disable-next-line prefer-promise-reject-errors
    { name: 'reject with a number', handler: async () => await Promise.reject(7), error: { name: 'Error', message: '7' } },
    { name: 'an error from another realm', handler: () => { throw crossRealm }, error: { name: 'RangeError', message: 'from another realm' } },
    { name: 'a value String() cannot convert', handler: () => { throw nullProto }, error: { name: 'Error', message: '' } },
    { name: 'a thenable whose then throws', handler: () => ({ then () { throw new Error('then failed') } }), error: { name: 'Error', message: 'then failed' } }
  ]
  for (const c of cases) {
    const logger = recordingLogger()
    const { run } = setup({ handler: c.handler, logger })
    run.start()
    const record = await run.done
    t.equal(record.status, 'error', `${c.name}: status`)
    t.same(record.error, c.error, `${c.name}: { name, message } only`)
    t.ok(record.cause instanceof Error || record.cause === crossRealm, `${c.name}: cause is an Error`)
    t.equal(record.result, undefined)
    t.match(logger.lines.at(-1), { level: 'error', msg: 'job failed', obj: { status: 'error' } }, `${c.name}: logged`)
  }
})

t.test('toRunError and toError', async (t) => {
  const weird = new Error('m')
  Object.defineProperty(weird, 'name', { get () { throw new Error('no name') } })
  t.same(toRunError(weird), { name: 'Error', message: 'm' }, 'a throwing name getter falls back')
  const wrapped = toError('text')
  t.equal(wrapped.message, 'text')
  t.equal(wrapped.cause, 'text', 'the thrown value is kept as cause')
  const original = new Error('same')
  t.equal(toError(original), original)
})

t.test('timeout aborts the signal and ends the run; a late settle is ignored', async (t) => {
  let ctx!: JobContext
  let settle!: () => void
  const { run, ended, clock } = setup({
    timeout: 1000,
    handler: async (c: JobContext) => {
      ctx = c
      await new Promise<void>((resolve, reject) => { settle = () => reject(new Error('too late')) })
    }
  })
  run.start()
  await clock.tick(999)
  t.equal(run.ended, false, 'not before the timeout')
  t.equal(ctx.signal.aborted, false)
  await clock.tick(1)
  t.equal(run.ended, true)
  t.equal(ctx.signal.aborted, true, 'the signal is aborted')
  t.equal((ctx.signal.reason as Error).name, 'TimeoutError')
  const record = await run.done
  t.match(record, { status: 'timeout', durationMs: 1000, error: { name: 'TimeoutError', message: 'Job "job" timed out after 1000 ms' } })
  settle()
  await flush()
  t.equal(ended.length, 1, 'the late rejection neither ends the run again nor goes unhandled')
  t.equal(clock.pending, 0, 'no timer left')
})

t.test('a timeout longer than the clock cap still fires at its deadline', async (t) => {
  const { run, clock } = setup({ timeout: 150_000, handler: async () => await new Promise(() => {}) })
  run.start()
  await clock.tick(149_999)
  t.equal(run.ended, false)
  t.ok(clock.delays.every((ms) => ms <= 60_000), 'every wait capped')
  await clock.tick(1)
  t.equal((await run.done).status, 'timeout')
})

t.test('a handler that finishes in time clears its timeout timer', async (t) => {
  const { run, clock } = setup({ timeout: 5000, handler: async () => 'quick' })
  run.start()
  t.equal(clock.pending, 1)
  t.equal((await run.done).status, 'success')
  t.equal(clock.pending, 0)
})

t.test('abort() aborts the signal and ends the run as aborted, once', async (t) => {
  let ctx!: JobContext
  const { run, ended } = setup({
    handler: async (c: JobContext) => {
      ctx = c
      // Settles synchronously inside the abort: still counted once, as aborted.
      await new Promise<void>((resolve) => c.signal.addEventListener('abort', () => resolve()))
    }
  })
  run.start()
  run.abort()
  run.abort()
  await flush()
  t.equal(ended.length, 1)
  t.match(ended[0], { status: 'aborted', error: { name: 'AbortError', message: 'Job "job" was aborted at shutdown' } })
  t.equal(ctx.signal.aborted, true)
  t.equal((ctx.signal.reason as Error).name, 'AbortError')
})

t.test('abort after the end is a no-op', async (t) => {
  const { run, ended } = setup()
  run.start()
  run.abort()
  t.equal(ended.length, 1)
  t.equal(ended[0].status, 'success')
  t.equal(run.signal.aborted, false)
})

t.test('the no-op logger takes every call and is its own child', async (t) => {
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) noopLogger[level]({}, 'x')
  t.equal(noopLogger.child({}), noopLogger)
})
