/**
 * One run of a job: builds its context, calls the handler, contains whatever
 * the handler does (throws, rejects, throws a non-Error, never settles), and
 * ends it exactly once as success, error, timeout or aborted. Counting runs,
 * maxInstances and stats belong to the scheduler; a Run only reports its end.
 */
import { randomUUID } from 'node:crypto'
import { types } from 'node:util'
import { setDeadline, type Clock } from './clock.js'
import type { JobContext, JobHandler, Logger, RunError, RunRecord, RunStatus } from './job.js'

export interface RunInput {
  id: string
  name: string
  data: unknown
  handler: JobHandler
  /** `this` and `ctx.fastify` for the handler. */
  owner: unknown
  scheduledAt: Date
  /** ms, or null for none. */
  timeout: number | null
  clock: Clock
  logger: Logger
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
  child: () => noopLogger
}

export class Run {
  readonly runId = randomUUID()
  readonly scheduledAt: Date
  /** Set by `start()`. */
  startedAt: Date
  /** Resolves with the run's record when it ends (never rejects). */
  readonly done: Promise<RunRecord>
  readonly #input: RunInput
  readonly #controller = new AbortController()
  readonly #onEnd: (record: RunRecord) => void
  #resolve!: (record: RunRecord) => void
  #cancelTimeout: (() => void) | null = null
  readonly #log: Logger
  #ended = false

  /** `onEnd` is called once, synchronously, when the run ends (before `done` resolves). */
  constructor (input: RunInput, onEnd: (record: RunRecord) => void) {
    this.#input = input
    this.#onEnd = onEnd
    this.scheduledAt = input.scheduledAt
    this.startedAt = input.scheduledAt
    this.#log = input.logger.child({ jobId: input.id, runId: this.runId })
    this.done = new Promise((resolve) => { this.#resolve = resolve })
  }

  get signal (): AbortSignal {
    return this.#controller.signal
  }

  get ended (): boolean {
    return this.#ended
  }

  /**
   * Calls the handler. Its synchronous part runs now; a sync handler ends the
   * run before this returns, so catch-up runs of a sync job don't overlap.
   */
  start (): void {
    const input = this.#input
    this.startedAt = new Date(input.clock.now())
    const ctx: JobContext = {
      id: input.id,
      name: input.name,
      data: input.data,
      runId: this.runId,
      scheduledAt: this.scheduledAt,
      startedAt: this.startedAt,
      signal: this.#controller.signal,
      log: this.#log,
      fastify: input.owner
    }
    if (input.timeout !== null) {
      const timeout = input.timeout
      this.#cancelTimeout = setDeadline(input.clock, this.startedAt.getTime() + timeout, () => {
        this.#cancelTimeout = null
        this.#stop('timeout', `Job "${input.id}" timed out after ${timeout} ms`, 'TimeoutError')
      })
    }
    let value: unknown
    try {
      value = input.handler.call(input.owner, ctx)
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

  /** Aborts the signal and ends the run as `aborted` (shutdown). No-op once ended. */
  abort (): void {
    this.#stop('aborted', `Job "${this.#input.id}" was aborted at shutdown`, 'AbortError')
  }

  #stop (status: 'timeout' | 'aborted', message: string, name: 'TimeoutError' | 'AbortError'): void {
    if (this.#ended) return
    // The same DOMException fetch() and AbortSignal.timeout() use, so handlers
    // can pass the signal on and recognise the reason.
    const reason = new DOMException(message, name)
    // Mark ended first: an abort listener in the handler may settle it synchronously.
    this.#end(status, reason, undefined)
    this.#controller.abort(reason)
  }

  #end (status: RunStatus, thrown: unknown, result: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#cancelTimeout?.()
    this.#cancelTimeout = null
    const finishedAt = new Date(this.#input.clock.now())
    const failed = status !== 'success'
    const record: RunRecord = {
      runId: this.runId,
      scheduledAt: this.scheduledAt,
      startedAt: this.startedAt,
      finishedAt,
      durationMs: finishedAt.getTime() - this.startedAt.getTime(),
      status,
      error: failed ? toRunError(thrown) : null,
      cause: failed ? toError(thrown) : null,
      result: failed ? undefined : result
    }
    if (failed) {
      this.#log.error({ err: record.cause, status, durationMs: record.durationMs }, `job ${status === 'error' ? 'failed' : status === 'timeout' ? 'timed out' : 'aborted'}`)
    } else {
      this.#log.debug({ durationMs: record.durationMs }, 'job succeeded')
    }
    this.#onEnd(record)
    this.#resolve(record)
  }
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
