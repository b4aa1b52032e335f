import t from 'tap'
import vm from 'node:vm'
import { Run, RunList, noopLogger, runIdOf, toError, toRunError, type RunHost, type RunJob } from '../lib/runner.js'
import type { JobContext, Logger, RunRecord } from '../lib/job.js'
import type { Clock } from '../lib/clock.js'
import { ManualClock, flush } from './helpers/fake-clock.js'
import { recordingLogger } from './helpers/logger.js'

interface Setup extends Partial<Omit<RunJob, 'options'>> {
  timeout?: number | null
  scheduledAt?: number
  clock?: Clock
  logger?: Logger
}

function setup ({ timeout = null, scheduledAt, clock = new ManualClock(), logger = noopLogger, ...overrides }: Setup = {}): { clock: ManualClock, run: Run, ended: RunRecord[], job: RunJob, scheduledAt: number } {
  const job: RunJob = {
    id: 'job',
    name: 'The job',
    data: { n: 1 },
    handler: () => 'ok',
    owner: { app: true },
    ...overrides,
    options: { timeout }
  }
  scheduledAt ??= clock.now() - 5
  const ended: RunRecord[] = []
  const host: RunHost = {
    clock,
    logger,
    ended (run) {
      ended.push({ runId: run.runId, scheduledAt: run.scheduledDate, startedAt: run.startedDate, finishedAt: run.finishedDate, durationMs: run.durationMs, status: run.status as RunRecord['status'], error: run.error, cause: run.cause, result: run.result })
    }
  }
  const run = new Run(job, scheduledAt, host)
  return { clock: clock as ManualClock, run, ended, job, scheduledAt }
}

t.test('builds the context and calls the handler with the owner as this', async (t) => {
  let seen: { ctx: JobContext, self: unknown } | undefined
  const logger = recordingLogger()
  const { run, job, scheduledAt, clock } = setup({
    logger,
    handler: function (this: unknown, ctx: JobContext) { seen = { ctx, self: this } }
  })
  run.start()
  if (seen === undefined) throw new Error('handler not called')
  const { ctx, self } = seen
  t.equal(self, job.owner, 'this is the owner')
  t.equal(ctx.fastify, job.owner, 'ctx.fastify is the owner')
  t.equal(ctx.id, 'job')
  t.equal(ctx.name, 'The job')
  t.equal(ctx.data, job.data)
  t.equal(ctx.runId, run.runId)
  t.match(ctx.runId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'shaped like a v4 UUID')
  t.equal(ctx.scheduledAt.getTime(), scheduledAt)
  t.equal(ctx.scheduledAt, ctx.scheduledAt, 'the same Date on every read')
  t.equal(ctx.startedAt.getTime(), clock.now())
  t.equal(ctx.startedAt, ctx.startedAt)
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

t.test('run ids: unique per run, v4-UUID shaped, made once per run', async (t) => {
  const { run } = setup()
  t.equal(run.runId, run.runId, 'the same string on every read')
  t.equal(run.runId, runIdOf(run.runNumber))
  const next = setup().run
  t.equal(next.runNumber, run.runNumber + 1, 'a per-process counter')
  t.equal(next.runId.slice(0, 24), run.runId.slice(0, 24), 'one random prefix per process')
  t.equal(runIdOf(0x2a), `${run.runId.slice(0, 24)}00000000002a`, 'the counter in the last 12 hex digits')
  t.match(runIdOf(2 ** 48 - 1), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-f{12}$/)
})

t.test('a signal first read after a timeout is already aborted with the timeout reason', async (t) => {
  let ctx!: JobContext
  const { run, clock } = setup({ timeout: 100, handler: async (c: JobContext) => { ctx = c; await new Promise(() => {}) } })
  run.start()
  await clock.tick(100)
  t.equal(run.ended, true)
  const signal = ctx.signal
  t.equal(signal.aborted, true)
  t.equal((signal.reason as DOMException).name, 'TimeoutError')
  t.equal((signal.reason as DOMException).message, 'Job "job" timed out after 100 ms')
  t.equal(ctx.signal, signal, 'the same signal on every read')
  t.equal((await run.done).cause, signal.reason, 'the reason is the recorded cause')
})

t.test('a signal first read after abort() is already aborted with the shutdown reason', async (t) => {
  const { run } = setup({ handler: async () => await new Promise(() => {}) })
  run.start()
  run.abort()
  t.equal(run.signal.aborted, true)
  t.equal((run.signal.reason as DOMException).name, 'AbortError')
  t.equal(run.status, 'aborted')
})

t.test('done: made on demand, before or after the end, resolving with the same record', async (t) => {
  const sync = setup({ handler: () => 7 })
  sync.run.start()
  t.same(await sync.run.done, sync.ended[0], 'asked for after a sync handler ended')
  t.equal(sync.run.done, sync.run.done, 'one promise')
  const later = setup({ handler: async () => await Promise.resolve(8) })
  const done = later.run.done
  later.run.start()
  t.match(await done, { status: 'success', result: 8, error: null, cause: null })
})

t.test('logging: the child logger is made only when a line is written or ctx.log is read', async (t) => {
  const lines: unknown[] = []
  let children = 0
  let debug = false
  const base = recordingLogger()
  const isLevelEnabled = (level: string): boolean => { lines.push(level); return debug }
  // pino-like: the logger and its children can tell whether a level is on.
  const logger = {
    ...base,
    child: (bindings: Record<string, unknown>) => { children++; return { ...base.child(bindings), isLevelEnabled } },
    isLevelEnabled
  }
  setup({ logger }).run.start()
  t.equal(children, 0, 'debug off: no child, no line')
  t.same(lines, ['debug'])
  t.equal(base.lines.length, 0)
  debug = true
  const { run } = setup({ logger })
  run.start()
  t.equal(children, 1)
  t.match(base.lines.at(-1), { level: 'debug', msg: 'job succeeded', bindings: { jobId: 'job', runId: run.runId } })
  children = 0
  setup({ logger, handler: () => { throw new Error('x') } }).run.start()
  t.equal(children, 1, 'a failure is always logged')
  t.match(base.lines.at(-1), { level: 'error', msg: 'job failed' })
  debug = false
  children = 0
  let read: Logger | undefined
  setup({ logger, handler: (ctx: JobContext) => { read = ctx.log; t.equal(ctx.log, read, 'one child per run') } }).run.start()
  t.equal(children, 1)
  t.equal(base.lines.at(-1)?.msg, 'job failed', 'the child asked whether debug is on: it is not')
  t.equal((noopLogger as Logger & { isLevelEnabled: (level: string) => boolean }).isLevelEnabled('debug'), false)
})

t.test('RunList: insertion order, O(1) delete anywhere, adding or deleting twice is a no-op', async (t) => {
  const list = new RunList()
  const [a, b, c] = [setup().run, setup().run, setup().run]
  list.add(a)
  list.add(b)
  list.add(c)
  list.add(b)
  t.same(list.toArray(), [a, b, c])
  list.delete(b)
  list.delete(b)
  t.same(list.toArray(), [a, c])
  list.delete(a)
  t.same(list.toArray(), [c])
  list.delete(c)
  t.same(list.toArray(), [])
  list.add(b)
  t.same(list.toArray(), [b])
})

t.test('ctx: the job and run fields, the run ones as getters', async (t) => {
  let ctx!: JobContext
  const { run } = setup({ handler: (c: JobContext) => { ctx = c } })
  run.start()
  t.same(Object.keys(ctx).sort(), ['data', 'fastify', 'id', 'name'])
  for (const key of ['runId', 'scheduledAt', 'startedAt', 'signal', 'log'] as const) t.ok(key in ctx, `${key} is there`)
  const { runId, signal } = ctx
  t.equal(runId, run.runId, 'destructuring works')
  t.equal(signal, run.signal)
})
