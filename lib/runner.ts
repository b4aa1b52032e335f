/**
 * One run of a job: builds its context, calls the handler, contains whatever
 * the handler does (throws, rejects, throws a non-Error, never settles), and
 * ends it exactly once as success, error, timeout or aborted. Counting runs,
 * maxInstances and stats belong to the scheduler; a Run only reports its end.
 *
 * A run is on the hot path (10,000 every-second jobs are 10,000 runs in one
 * wake), so it allocates only what someone uses: the AbortSignal, the child
 * logger, the Date objects and the `done` promise are made on first access,
 * times are kept as epoch ms.
 */
import { randomUUID } from 'node:crypto'
import { types } from 'node:util'
import { setDeadline, type Clock } from './clock.js'
import type { JobContext, JobHandler, Logger, RunError, RunRecord, RunStatus } from './job.js'

/** What a run reads from its job (the scheduler's job record is one). Read when the run starts, except `id`. */
export interface RunJob {
  readonly id: string
  readonly name: string
  readonly data: unknown
  readonly handler: JobHandler
  /** `this` and `ctx.fastify` for the handler. */
  readonly owner: unknown
  /** `timeout`: ms, or null for none. */
  readonly options: { readonly timeout: number | null }
}

/** What every run of one scheduler shares. */
export interface RunHost<J extends RunJob = RunJob> {
  readonly clock: Clock
  /** Runs log through `logger.child({ jobId, runId })`, made when first needed. */
  readonly logger: Logger
  /** Called once, synchronously, when a run ends (before `done` resolves). */
  ended (run: Run<J>): void
}

const noop = (): void => {}

/** A logger that drops everything: the default when none is given. */
export const noopLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => noopLogger,
  // pino's way of saying so: a run skips its "job succeeded" line (and the child logger for it).
  isLevelEnabled: () => false
} as Logger

// Run ids: unique per run without a randomUUID() per run (about a microsecond,
// and Node builds its string by concatenation, a rope of ~600 B that `lastRun`
// would keep for every job). The first 24 characters come from one random UUID
// per process (74 random bits, with the UUID's version and variant), the last 12
// hex digits are a per-process counter: unique within the process until 2^48 runs
// (nine years at a million runs a second), and two processes share a prefix with
// a probability of 2^-74. The result still has a v4 UUID's shape, so a store can
// keep it in a uuid column. A run keeps its number and makes the string only
// when asked: most runs of a busy job are never asked.
const RUN_ID_PREFIX = randomUUID().slice(0, 24)
let runCount = 0

/** The number of a new run (see above). */
export function nextRunNumber (): number {
  return ++runCount
}

/** The id of run number `n` of this process. */
export function runIdOf (n: number): string {
  return RUN_ID_PREFIX + n.toString(16).padStart(12, '0')
}

export class Run<J extends RunJob = RunJob> {
  /** Its number among this process's runs; `runId` is made from it. */
  readonly runNumber = nextRunNumber()
  readonly job: J
  /** The fire time this run is for, epoch ms. */
  readonly scheduledAt: number
  /** Epoch ms; set by `start()`. */
  startedAt: number
  /** Epoch ms; NaN until the run ends. */
  finishedAt = Number.NaN
  readonly #host: RunHost<J>
  #status: RunStatus | null = null
  #result: unknown = undefined
  #error: RunError | null = null
  #cause: Error | null = null
  #controller: AbortController | null = null
  #signal: AbortSignal | null = null
  /** Set when a timeout or shutdown stopped the run: a signal first read afterwards is born aborted with it. */
  #abortReason: DOMException | null = null
  #cancelTimeout: (() => void) | null = null
  #log: Logger | null = null
  #done: Promise<RunRecord> | null = null
  #resolve: ((record: RunRecord) => void) | null = null
  #runId: string | null = null
  #scheduledDate: Date | null = null
  #startedDate: Date | null = null
  #finishedDate: Date | null = null
  /** Links of the RunList the run is in; owned by that list. */
  listPrev: Run<J> | null = null
  listNext: Run<J> | null = null
  listed = false
  /** With a shared store: the fence token of the claim this run holds; 0 for none. */
  fence = 0
  /** With a shared store: its end goes to the store at once, not with the next batch of ends (a manual run: its caller may act on its result next). */
  endAtOnce = false

  constructor (job: J, scheduledAt: number, host: RunHost<J>) {
    this.job = job
    this.scheduledAt = scheduledAt
    this.startedAt = scheduledAt
    this.#host = host
  }

  /** Unique per run (see runIdOf). */
  get runId (): string {
    this.#runId ??= runIdOf(this.runNumber)
    return this.#runId
  }

  /** Aborted on timeout and at shutdown. Made on first access: most handlers never read it. */
  get signal (): AbortSignal {
    if (this.#signal === null) {
      if (this.#abortReason !== null) {
        this.#signal = AbortSignal.abort(this.#abortReason)
      } else {
        this.#controller = new AbortController()
        this.#signal = this.#controller.signal
      }
    }
    return this.#signal
  }

  /** A child logger bound to `{ jobId, runId }`, made on first access (a pino child is not cheap). */
  get log (): Logger {
    this.#log ??= this.#host.logger.child({ jobId: this.job.id, runId: this.runId })
    return this.#log
  }

  get scheduledDate (): Date {
    this.#scheduledDate ??= new Date(this.scheduledAt)
    return this.#scheduledDate
  }

  get startedDate (): Date {
    this.#startedDate ??= new Date(this.startedAt)
    return this.#startedDate
  }

  /** Valid once the run has ended. */
  get finishedDate (): Date {
    this.#finishedDate ??= new Date(this.finishedAt)
    return this.#finishedDate
  }

  get ended (): boolean {
    return this.#status !== null
  }

  /** How the run ended; null while it runs. */
  get status (): RunStatus | null {
    return this.#status
  }

  /** `{ name, message }` of what ended the run; null on success and while it runs. */
  get error (): RunError | null {
    return this.#error
  }

  /** What ended the run as an Error (see RunRecord.cause); null on success and while it runs. */
  get cause (): Error | null {
    return this.#cause
  }

  /** The handler's (awaited) return value; undefined unless the run succeeded. */
  get result (): unknown {
    return this.#result
  }

  get durationMs (): number {
    return this.finishedAt - this.startedAt
  }

  /** Resolves with the run's record when it ends (never rejects); made on first access, also after the end. */
  get done (): Promise<RunRecord> {
    if (this.#done === null) {
      this.#done = this.#status !== null
        ? Promise.resolve(this.#record())
        : new Promise((resolve) => { this.#resolve = resolve })
    }
    return this.#done
  }

  /**
   * Calls the handler. Its synchronous part runs now; a sync handler ends the
   * run before this returns, so catch-up runs of a sync job don't overlap.
   */
  start (): void {
    const job = this.job
    const clock = this.#host.clock
    this.startedAt = clock.now()
    const ctx = new RunContext(this)
    const timeout = job.options.timeout
    if (timeout !== null) {
      this.#cancelTimeout = setDeadline(clock, this.startedAt + timeout, () => {
        this.#cancelTimeout = null
        this.#stop('timeout', `Job "${job.id}" timed out after ${timeout} ms`, 'TimeoutError')
      })
    }
    let value: unknown
    try {
      value = job.handler.call(ctx.fastify, ctx)
    } catch (err) {
      this.#end('error', err, undefined)
      return
    }
    if (isThenable(value)) {
      // Promise.resolve adopts any thenable, including one whose `then` throws.
      // Settling after a timeout or abort is ignored by #end: the run is over.
      Promise.resolve(value).then(
        (result) => this.#end('success', undefined, result),
        (err: unknown) => this.#end('error', err, undefined)
      )
    } else {
      this.#end('success', undefined, value)
    }
  }

  /** Aborts the signal and ends the run as `aborted` (shutdown, or a run the fleet took over). No-op once ended. */
  abort (why = 'at shutdown'): void {
    this.#stop('aborted', `Job "${this.job.id}" was aborted ${why}`, 'AbortError')
  }

  #stop (status: 'timeout' | 'aborted', message: string, name: 'TimeoutError' | 'AbortError'): void {
    if (this.#status !== null) return
    // The same DOMException fetch() and AbortSignal.timeout() use, so handlers
    // can pass the signal on and recognise the reason.
    const reason = new DOMException(message, name)
    // End first: an abort listener in the handler may settle it synchronously.
    this.#end(status, reason, undefined)
    this.#abortReason = reason
    // No controller when nobody has read the signal yet: nothing to abort now,
    // and a later read gets a signal that is already aborted with `reason`.
    this.#controller?.abort(reason)
  }

  #end (status: RunStatus, thrown: unknown, result: unknown): void {
    if (this.#status !== null) return
    this.#status = status
    if (this.#cancelTimeout !== null) {
      this.#cancelTimeout()
      this.#cancelTimeout = null
    }
    this.finishedAt = this.#host.clock.now()
    const durationMs = this.finishedAt - this.startedAt
    if (status === 'success') {
      this.#result = result
      // Skips making a child logger for a line the logger drops anyway.
      if (isLevelEnabled(this.#log ?? this.#host.logger, 'debug')) this.log.debug({ durationMs }, 'job succeeded')
    } else {
      this.#error = toRunError(thrown)
      this.#cause = toError(thrown)
      this.log.error({ err: this.#cause, status, durationMs }, `job ${status === 'error' ? 'failed' : status === 'timeout' ? 'timed out' : 'aborted'}`)
    }
    this.#host.ended(this)
    if (this.#resolve !== null) {
      this.#resolve(this.#record())
      this.#resolve = null
    }
  }

  #record (): RunRecord {
    return {
      runId: this.runId,
      scheduledAt: this.scheduledDate,
      startedAt: this.startedDate,
      finishedAt: this.finishedDate,
      durationMs: this.durationMs,
      status: this.#status as RunStatus,
      error: this.#error,
      cause: this.#cause,
      result: this.#result
    }
  }
}

/**
 * A set of runs in insertion order, linked through the runs themselves: adding
 * and deleting are O(1) without hashing or a table to grow and shrink (a Set
 * was a fifth of the scheduler's time per fire). A run is in one list at most.
 */
export class RunList<J extends RunJob = RunJob> {
  #head: Run<J> | null = null
  #tail: Run<J> | null = null

  add (run: Run<J>): void {
    if (run.listed) return
    run.listed = true
    run.listPrev = this.#tail
    run.listNext = null
    if (this.#tail === null) this.#head = run
    else this.#tail.listNext = run
    this.#tail = run
  }

  delete (run: Run<J>): void {
    if (!run.listed) return
    run.listed = false
    const { listPrev: prev, listNext: next } = run
    if (prev === null) this.#head = next
    else prev.listNext = next
    if (next === null) this.#tail = prev
    else next.listPrev = prev
    run.listPrev = null
    run.listNext = null
  }

  /** The runs, oldest first. */
  toArray (): Array<Run<J>> {
    const runs: Array<Run<J>> = []
    for (let run = this.#head; run !== null; run = run.listNext) runs.push(run)
    return runs
  }
}

/**
 * The handler's `ctx`: the job's fields as own properties, the run's as getters
 * that make what they return on first access (the run id, the signal, the child
 * logger, the Dates), shared with the run's record and events.
 */
class RunContext implements JobContext {
  readonly id: string
  readonly name: string
  readonly data: unknown
  readonly fastify: unknown
  readonly #run: Run

  constructor (run: Run) {
    const job = run.job
    this.id = job.id
    this.name = job.name
    this.data = job.data
    this.fastify = job.owner
    this.#run = run
  }

  get runId (): string {
    return this.#run.runId
  }

  get scheduledAt (): Date {
    return this.#run.scheduledDate
  }

  get startedAt (): Date {
    return this.#run.startedDate
  }

  get signal (): AbortSignal {
    return this.#run.signal
  }

  get log (): Logger {
    return this.#run.log
  }
}

/** Whether `logger` writes `level`: asked where it can tell (pino's isLevelEnabled), else assumed. */
function isLevelEnabled (logger: Logger, level: string): boolean {
  const check = (logger as { isLevelEnabled?: unknown }).isLevelEnabled
  return typeof check !== 'function' || (check as (level: string) => boolean).call(logger, level)
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
}

function isError (value: unknown): value is Error {
  // isNativeError also recognises errors from another realm (vm, worker data).
  return value instanceof Error || types.isNativeError(value)
}

/** `{ name, message }` of a thrown value; a non-Error `v` becomes `{ name: 'Error', message: String(v) }`. */
export function toRunError (value: unknown): RunError {
  if (isError(value)) return { name: safeString(() => value.name, 'Error'), message: safeString(() => value.message, '') }
  return { name: 'Error', message: safeString(() => value, '') }
}

/** The thrown value as an Error: itself, or a wrapper with the value as `cause`. */
export function toError (value: unknown): Error {
  if (isError(value)) return value
  return new Error(safeString(() => value, ''), { cause: value })
}

/** String(read()), or `fallback` when that throws (a throwing getter or toString, an object without a prototype). */
function safeString (read: () => unknown, fallback: string): string {
  try {
    return String(read())
  } catch {
    return fallback
  }
}
