/**
 * The types of the scheduler core: a job (its definition), a run (one execution
 * of it) and what is reported about both. The trigger is a third, separate
 * thing (lib/triggers). Keeping the three apart leaves room for tasks enqueued
 * at runtime, run history and run hooks (DESIGN, "Coming after").
 */
import type { Trigger, TriggerJSON, TriggerSpec } from './triggers/trigger.js'

/** A pino-style logger; Fastify's `app.log` is one. */
export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  fatal: LogFn
  child (bindings: Record<string, unknown>): Logger
}

export type LogFn = (obj: unknown, msg?: string) => void

/** The options a job can take and the scheduler's `defaults` can set for all jobs. */
export interface JobOptions {
  /** Concurrent runs allowed; a fire beyond it is skipped (`job:skipped`). Integer >= 1. */
  maxInstances: number
  /** Several due fires run once (for the latest), not once each. */
  coalesce: boolean
  /** A fire later than this many ms is not run (`job:missed`); null: always run, however late. */
  misfireGraceTime: number | null
  /** The run's signal aborts at this age (ms) and the run ends as `timeout`; null: no timeout. */
  timeout: number | null
  /**
   * With a shared store: what happens to a run whose instance died mid-run (its
   * lease expired). 'mark' records it as `lost`; 'rerun' also runs the fire once
   * more on an instance that knows the job. No effect without a store.
   */
  onLost: 'mark' | 'rerun'
}

export const DEFAULT_JOB_OPTIONS: Readonly<JobOptions> = Object.freeze({
  maxInstances: 1,
  coalesce: true,
  misfireGraceTime: null,
  timeout: null,
  onLost: 'mark'
})

/** What the handler gets. `TOwner` is the value the scheduler was given as `context` (the Fastify instance in the plugin). */
export interface JobContext<TData = unknown, TOwner = unknown> {
  id: string
  name: string
  data: TData
  /** Unique per run. */
  runId: string
  /** The fire time this run is for (a manual `runJob` run: the moment it was asked for). */
  scheduledAt: Date
  startedAt: Date
  /** Aborted when the run times out and at shutdown. */
  signal: AbortSignal
  /** A child logger bound to `{ jobId, runId }`. */
  log: Logger
  fastify: TOwner
}

/** The work. `this` is the scheduler's `context` too. A returned promise is awaited. */
export type JobHandler<TData = unknown, TOwner = unknown> = (this: TOwner, ctx: JobContext<TData, TOwner>) => unknown

export interface JobDefinition<TData = unknown, TOwner = unknown> extends Partial<JobOptions> {
  /** Unique within the scheduler. */
  id: string
  /** For people; default: `id`. */
  name?: string
  /**
   * When it fires: a spec for `createTrigger`, or a ready `Trigger` object
   * (anything with `next`, `toJSON` and `jitter`) for a custom schedule.
   */
  trigger: TriggerSpec | Trigger
  handler: JobHandler<TData, TOwner>
  /** Handed to the handler as `ctx.data`. */
  data?: TData
  /** Added paused. */
  paused?: boolean
  /** Replace a job with the same id instead of failing. */
  replaceExisting?: boolean
}

/** How a run ended. */
export type RunStatus = 'success' | 'error' | 'timeout' | 'aborted'

/** An error as it is recorded: never a stack, never data. */
export interface RunError {
  name: string
  message: string
}

/** One finished run (a run's own record, kept apart from the job it belongs to). */
export interface RunRecord {
  runId: string
  scheduledAt: Date
  startedAt: Date
  finishedAt: Date
  durationMs: number
  status: RunStatus
  /** `{ name, message }` of what ended the run; null on success. */
  error: RunError | null
  /** What ended the run as an Error (the thrown error, a wrapper of a thrown non-Error, or the abort reason); null on success. */
  cause: Error | null
  /** The handler's (awaited) return value; undefined unless the run succeeded. */
  result: unknown
}

/** What `runJob` resolves with. */
export interface RunResult {
  /** null when the run was skipped. */
  runId: string | null
  status: RunStatus | 'skipped'
  result?: unknown
  error?: RunError
}

/** `JobStatus.lastRun`: a RunRecord in JSON form, with the instance that ran it. */
export interface LastRun {
  runId: string
  scheduledAt: string
  startedAt: string
  /** null for a `lost` run (its instance died before reporting an end). */
  finishedAt: string | null
  durationMs: number | null
  /** `lost` only with a shared store: the run's instance stopped renewing its lease. */
  status: RunStatus | 'lost'
  error: RunError | null
  instanceId: string
}

export interface JobStats {
  /** Runs started. */
  runs: number
  successes: number
  /** Runs that ended as error, timeout or aborted. */
  failures: number
  /** Fires not run because they were too late (misfireGraceTime) or beyond the catch-up cap. */
  missed: number
  /** Fires not run because of maxInstances or a paused scheduler. */
  skipped: number
}

/** A job as `getJob`, `getJobs` and the routes show it. */
export interface JobStatus {
  id: string
  name: string
  trigger: TriggerJSON
  paused: boolean
  /** Live runs; a run that timed out no longer counts. */
  running: number
  /** ISO time of the next fire (before jitter); null when paused, exhausted or the scheduler isn't running. */
  nextRunAt: string | null
  lastRun: LastRun | null
  stats: JobStats
}

export type SchedulerState = 'stopped' | 'running' | 'paused'

export type SkipReason = 'max-instances' | 'paused'

export type JobChange = 'paused' | 'resumed' | 'rescheduled' | 'replaced'

/** Fields of every event about one run. */
export interface RunEvent {
  id: string
  runId: string
  scheduledAt: Date
  startedAt: Date
}

export interface RunEndEvent extends RunEvent {
  finishedAt: Date
  durationMs: number
}

/** The events and their payloads. */
export interface SchedulerEvents {
  'job:added': { id: string, job: JobStatus }
  'job:removed': { id: string }
  'job:updated': { id: string, change: JobChange, job: JobStatus }
  'job:start': RunEvent
  'job:success': RunEndEvent & { result: unknown }
  'job:error': RunEndEvent & { status: Exclude<RunStatus, 'success'>, error: Error }
  /** `scheduledAt`: the first missed fire; `count`: how many were missed on this wake. */
  'job:missed': { id: string, scheduledAt: Date, count: number }
  /** `scheduledAt`: the (latest) skipped fire; `count`: how many fires this event stands for. */
  'job:skipped': { id: string, scheduledAt: Date, reason: SkipReason, count: number }
  'scheduler:start': { state: SchedulerState }
  'scheduler:pause': { state: SchedulerState }
  'scheduler:resume': { state: SchedulerState }
  'scheduler:shutdown': { state: SchedulerState }
}

export type SchedulerEventName = keyof SchedulerEvents

export type SchedulerListener<E extends SchedulerEventName> = (payload: SchedulerEvents[E]) => unknown
