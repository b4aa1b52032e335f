/**
 * The scheduler core: the job registry, one timer for every job, misfire and
 * coalesce rules, overlap, lifecycle and events (DESIGN rules 1–7). It knows
 * nothing of Fastify; the plugin is a thin adapter that hands in its logger and
 * itself as `context`.
 */
import { randomUUID } from 'node:crypto'
import { MAX_WAIT, setDeadline, systemClock, type Clock } from './clock.js'
import { SafeEmitter } from './emitter.js'
import { classOf, jobsOf } from './decorators.js'
import { ErrorCodes, SchedulerError, describe, invalidOption } from './errors.js'
import { countFires, fireSeries, lastFireAtOrBefore, nextFire, type FireSeries } from './fires.js'
import {
  DEFAULT_JOB_OPTIONS,
  type JobDefinition,
  type JobHandler,
  type JobOptions,
  type JobStats,
  type JobStatus,
  type LastRun,
  type Logger,
  type RunError,
  type RunResult,
  type RunStatus,
  type SchedulerEventName,
  type SchedulerEvents,
  type SchedulerListener,
  type SchedulerState
} from './job.js'
import { FireQueue, type QueueEntry } from './queue.js'
import { Run, RunList, noopLogger, runIdOf, type RunHost } from './runner.js'
import { createTrigger, type Trigger, type TriggerSpec } from './triggers/trigger.js'
import { resolveZone } from './triggers/zone.js'

export interface SchedulerCoreOptions<TOwner = unknown> {
  /** Zone for cron triggers that name none; default: the process's. */
  timezone?: string
  /** Default: the system clock. */
  clock?: Clock
  /** Default: a logger that drops everything. Runs log through `logger.child({ jobId, runId })`. */
  logger?: Logger
  /** Options for every job that doesn't set its own. */
  defaults?: Partial<JobOptions>
  /** ms that `shutdown()` waits for running runs before aborting them; default 10000. */
  shutdownTimeout?: number
  /** Handed to handlers as `ctx.fastify` and `this`. */
  context?: TOwner
  /** Recorded in `lastRun.instanceId`; default: a random UUID per scheduler. */
  instanceId?: string
}

/** Without `coalesce`, at most this many due fires of one job run per wake; the rest count as missed. */
export const CATCH_UP_LIMIT = 100

export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000

/** A started run, for callers that need its id before it ends (the `POST /run` route). */
export interface RunHandle {
  /** null when the run was skipped (maxInstances). */
  runId: string | null
  /** Resolves like `runJob`. */
  result: Promise<RunResult>
}

/** A registered job: its definition, its trigger and its live state. */
interface JobRecord {
  id: string
  name: string
  handler: JobHandler
  data: unknown
  options: JobOptions
  spec: TriggerSpec | Trigger
  series: FireSeries
  paused: boolean
  /**
   * Scheduled time of the queued fire (before jitter), NaN when not queued. NaN
   * rather than null keeps the field a number, which V8 updates in place: no
   * new heap number per fire for the garbage collector to copy.
   */
  fire: number
  /** Heap handle, created on first scheduling and reused after. */
  entry: QueueEntry<JobRecord> | null
  running: number
  /** Set by removeJob: a run of this wake must not start for it any more. */
  removed: boolean
  /** The latest finished run, updated in place; ISO strings are made only for a status (`JobStatus.lastRun`). */
  lastRun: LastRunState | null
  stats: JobStats
  /** `this` and `ctx.fastify` for its runs: the scheduler's context, or the one `withOwner` gave. */
  owner: unknown
}

/** `JobStatus.lastRun` before formatting: times in epoch ms. */
interface LastRunState {
  /** Run.runNumber: the id string is made for a status only. */
  runNumber: number
  scheduledAt: number
  startedAt: number
  finishedAt: number
  durationMs: number
  status: RunStatus
  error: RunError | null
}

const JOB_FIELDS = new Set(['id', 'name', 'trigger', 'handler', 'data', 'maxInstances', 'coalesce', 'misfireGraceTime', 'timeout', 'paused', 'replaceExisting'])
const OPTION_FIELDS = ['maxInstances', 'coalesce', 'misfireGraceTime', 'timeout'] as const
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'child'] as const

export class Scheduler<TOwner = unknown> {
  readonly instanceId: string
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #timezone: string | undefined
  readonly #defaults: JobOptions
  readonly #shutdownTimeout: number
  /** The owner of jobs added now: `context`, or the one `withOwner` set for its callback. */
  #owner: TOwner
  readonly #jobs = new Map<string, JobRecord>()
  readonly #queue = new FireQueue<JobRecord>()
  /** Every live run, of current and removed jobs: what shutdown waits for. */
  readonly #active = new RunList<JobRecord>()
  readonly #events: SafeEmitter<SchedulerEvents>
  /** Shared by every run: one object per scheduler, not a closure per run. */
  readonly #host: RunHost<JobRecord>
  #state: SchedulerState = 'stopped'
  #closing: Promise<void> | null = null
  #timer: unknown = undefined
  /** The due time the timer was armed for. */
  #armedFor = Number.NaN

  constructor (options: SchedulerCoreOptions<TOwner> = {}) {
    if (options === null || typeof options !== 'object') throw invalidOption('options', options, 'expected an object')
    const { timezone, clock, logger, defaults, shutdownTimeout, instanceId } = options
    if (timezone !== undefined) resolveZone(timezone)
    if (clock !== undefined && !hasFunctions(clock, ['now', 'setTimeout', 'clearTimeout'])) {
      throw invalidOption('clock', clock, 'expected { now(), setTimeout(fn, ms), clearTimeout(handle) }')
    }
    if (logger !== undefined && !hasFunctions(logger, LOG_LEVELS)) {
      throw invalidOption('logger', logger, `expected a pino-style logger with ${LOG_LEVELS.join(', ')}`)
    }
    if (defaults !== undefined && (defaults === null || typeof defaults !== 'object' || Array.isArray(defaults))) {
      throw invalidOption('defaults', defaults, 'expected an object')
    }
    for (const key of Object.keys(defaults ?? {})) {
      if (!(OPTION_FIELDS as readonly string[]).includes(key)) {
        throw invalidOption(`defaults.${key}`, (defaults as Record<string, unknown>)[key], `unknown job option; known: ${OPTION_FIELDS.join(', ')}`)
      }
    }
    if (shutdownTimeout !== undefined && !(typeof shutdownTimeout === 'number' && shutdownTimeout >= 0 && Number.isFinite(shutdownTimeout))) {
      throw invalidOption('shutdownTimeout', shutdownTimeout, 'must be a finite number of milliseconds >= 0')
    }
    if (instanceId !== undefined && (typeof instanceId !== 'string' || instanceId === '')) {
      throw invalidOption('instanceId', instanceId, 'must be a non-empty string')
    }
    this.#timezone = timezone
    this.#clock = clock ?? systemClock
    this.#logger = logger ?? noopLogger
    this.#defaults = { ...DEFAULT_JOB_OPTIONS, ...jobOptions(defaults ?? {}, (field, value, rule) => invalidOption(`defaults.${field}`, value, rule)) }
    this.#shutdownTimeout = shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT
    this.#owner = options.context as TOwner
    this.instanceId = instanceId ?? randomUUID()
    this.#events = new SafeEmitter((err, event) => {
      this.#logger.error({ err, event }, `fastify-scheduler: a "${String(event)}" listener threw; ignored`)
    })
    this.#host = { clock: this.#clock, logger: this.#logger, ended: (run) => this.#finish(run) }
  }

  get state (): SchedulerState {
    return this.#state
  }

  // ---------------------------------------------------------------- jobs

  /** Validates and adds a job; throws on a duplicate id (unless `replaceExisting`) or a bad definition. */
  addJob<TData = unknown> (definition: JobDefinition<TData, TOwner>): JobStatus {
    this.#assertOpen('add a job')
    const def = validateDefinition(definition)
    const existing = this.#jobs.get(def.id)
    if (existing !== undefined && def.replaceExisting !== true) {
      throw new SchedulerError(ErrorCodes.DUPLICATE_JOB, `A job with id ${describe(def.id)} exists already (set replaceExisting: true to replace it)`, 409)
    }
    const now = this.#clock.now()
    const trigger = this.#buildTrigger(def.id, def.trigger, now)
    const options = { ...this.#defaults, ...jobOptions(def, (field, value, rule) => invalidJob(def.id, field, value, rule)) }
    const handler = def.handler as JobHandler
    if (existing !== undefined) {
      // Replaced in place: live runs (for maxInstances), lastRun and stats stay with the id.
      this.#unschedule(existing)
      Object.assign(existing, { name: def.name ?? def.id, handler, data: def.data, options, spec: def.trigger, series: fireSeries(trigger), paused: def.paused === true, owner: this.#owner })
      this.#scheduleIfDue(existing, now, trigger)
      return this.#changed(existing, 'replaced')
    }
    const job: JobRecord = {
      id: def.id,
      name: def.name ?? def.id,
      handler,
      data: def.data,
      options,
      spec: def.trigger,
      series: fireSeries(trigger),
      paused: def.paused === true,
      fire: Number.NaN,
      entry: null,
      running: 0,
      removed: false,
      lastRun: null,
      stats: { runs: 0, successes: 0, failures: 0, missed: 0, skipped: 0 },
      owner: this.#owner
    }
    this.#jobs.set(job.id, job)
    this.#scheduleIfDue(job, now, trigger)
    const status = this.#status(job)
    if (this.#events.has('job:added')) this.#events.emit('job:added', { id: job.id, job: status })
    return status
  }

  /**
   * Adds the jobs an object declares with `@Cron`, `@Interval` and `@At` (see
   * `jobsOf`): one per decoration, each handler bound to the object. An object
   * without any is an error (most likely the wrong object). All or nothing: when
   * one job fails (a bad trigger, a taken id), the jobs this call added are
   * removed again (jobs it replaced through `replaceExisting` stay replaced).
   */
  addJobsFrom (object: object): JobStatus[] {
    if (object === null || typeof object !== 'object') {
      throw new SchedulerError(ErrorCodes.INVALID_JOB, `addJobsFrom expects an object with decorated methods, got ${describe(object)}`, 400)
    }
    const definitions = jobsOf(object)
    if (definitions.length === 0) {
      const name = classOf(object)
      throw new SchedulerError(ErrorCodes.INVALID_JOB, `addJobsFrom: ${name === undefined ? 'the object' : `the ${name} object`} has no method decorated with @Cron, @Interval or @At`, 400)
    }
    const added: string[] = []
    try {
      return definitions.map((definition) => {
        const isNew = !this.#jobs.has(definition.id)
        const status = this.addJob(definition as JobDefinition<unknown, TOwner>)
        if (isNew) added.push(definition.id)
        return status
      })
    } catch (err) {
      for (const id of added) this.removeJob(id)
      throw err
    }
  }

  /**
   * Calls `add` (synchronously) with `owner` instead of `context` as the owner
   * (`this` and `ctx.fastify`) of every job it adds, through addJob or
   * addJobsFrom. The plugin uses it so that a job added from an encapsulated
   * plugin gets that plugin's instance.
   */
  withOwner<T> (owner: TOwner, add: () => T): T {
    const previous = this.#owner
    this.#owner = owner
    try {
      return add()
    } finally {
      this.#owner = previous
    }
  }

  /** Removes a job; its live runs finish. false when there is no such job. */
  removeJob (id: string): boolean {
    const job = this.#jobs.get(id)
    if (job === undefined) return false
    this.#unschedule(job)
    this.#jobs.delete(id)
    job.removed = true
    this.#arm()
    this.#events.emit('job:removed', { id })
    return true
  }

  /** Stops a job's fires (its live runs finish); `nextRunAt` becomes null. */
  pauseJob (id: string): JobStatus {
    const job = this.#get(id)
    if (job.paused) return this.#status(job)
    job.paused = true
    this.#unschedule(job)
    this.#arm()
    return this.#changed(job, 'paused')
  }

  /** Resumes a paused job; its next fire is computed from now (an interval is anchored now). */
  resumeJob (id: string): JobStatus {
    const job = this.#get(id)
    if (!job.paused) return this.#status(job)
    job.paused = false
    this.#scheduleIfDue(job, this.#clock.now(), null)
    return this.#changed(job, 'resumed')
  }

  /** Gives a job a new trigger; its next fire is computed from now. */
  rescheduleJob (id: string, trigger: TriggerSpec | Trigger): JobStatus {
    const job = this.#get(id)
    if (trigger === undefined) throw invalidJob(id, 'trigger', trigger, 'is required')
    const now = this.#clock.now()
    const built = this.#buildTrigger(id, trigger, now)
    this.#unschedule(job)
    job.spec = trigger
    job.series = fireSeries(built)
    this.#scheduleIfDue(job, now, built)
    return this.#changed(job, 'rescheduled')
  }

  /**
   * Runs a job now, outside its schedule (a paused job too). Resolves when the
   * run ends; with maxInstances runs going, at once with `{ runId: null, status: 'skipped' }`.
   */
  async runJob (id: string): Promise<RunResult> {
    return await this.startRun(id).result
  }

  /** Like `runJob`, but hands back the run's id as soon as it has started. */
  startRun (id: string): RunHandle {
    const job = this.#get(id)
    this.#assertOpen('run a job')
    const run = this.#fire(job, this.#clock.now())
    if (run === null) return { runId: null, result: Promise.resolve({ runId: null, status: 'skipped' }) }
    // `done` works after the end too: a sync handler has ended by now.
    return {
      runId: run.runId,
      result: run.done.then((record): RunResult => record.status === 'success'
        ? { runId: record.runId, status: record.status, result: record.result }
        : { runId: record.runId, status: record.status, error: record.error as RunError })
    }
  }

  getJob (id: string): JobStatus | undefined {
    const job = this.#jobs.get(id)
    return job === undefined ? undefined : this.#status(job)
  }

  getJobs (): JobStatus[] {
    return Array.from(this.#jobs.values(), (job) => this.#status(job))
  }

  // ----------------------------------------------------------- lifecycle

  /** Starts firing; intervals without `startAt` are anchored now. No-op unless stopped. */
  start (): void {
    this.#assertOpen('start')
    if (this.#state !== 'stopped') return
    this.#state = 'running'
    const now = this.#clock.now()
    for (const job of this.#jobs.values()) this.#scheduleIfDue(job, now, null)
    this.#arm()
    this.#events.emit('scheduler:start', { state: this.#state })
  }

  /** Stops running fires: while paused, due fires are consumed and reported as skipped. No-op unless running. */
  pause (): void {
    if (this.#state !== 'running') return
    this.#state = 'paused'
    this.#events.emit('scheduler:pause', { state: this.#state })
  }

  /** No-op unless paused. */
  resume (): void {
    if (this.#state !== 'paused') return
    this.#state = 'running'
    this.#events.emit('scheduler:resume', { state: this.#state })
  }

  /**
   * Stops firing at once, waits up to `shutdownTimeout` for live runs, then
   * aborts the rest (recorded as `aborted`) and resolves. Afterwards no timer of
   * the scheduler is left. Calling it again returns the same promise.
   */
  shutdown (): Promise<void> {
    this.#closing ??= this.#drain()
    return this.#closing
  }

  // -------------------------------------------------------------- events

  on<E extends SchedulerEventName> (event: E, listener: SchedulerListener<E>): this {
    this.#events.on(event, checkListener(listener))
    return this
  }

  once<E extends SchedulerEventName> (event: E, listener: SchedulerListener<E>): this {
    this.#events.once(event, checkListener(listener))
    return this
  }

  off<E extends SchedulerEventName> (event: E, listener: SchedulerListener<E>): this {
    this.#events.off(event, listener)
    return this
  }

  // ------------------------------------------------------------ internal

  async #drain (): Promise<void> {
    this.#state = 'stopped'
    this.#disarm()
    this.#queue.clear()
    for (const job of this.#jobs.values()) job.fire = Number.NaN
    const runs = this.#active.toArray()
    if (runs.length > 0) {
      // ref'd: a top-level `await shutdown()` must not exit with the promise unsettled.
      let cancel!: () => void
      const graceOver = new Promise<void>((resolve) => {
        cancel = setDeadline(this.#clock, this.#clock.now() + this.#shutdownTimeout, resolve, { ref: true })
      })
      await Promise.race([Promise.all(runs.map(async (run) => await run.done)), graceOver])
      cancel()
      for (const run of runs) run.abort()
    }
    this.#events.emit('scheduler:shutdown', { state: this.#state })
  }

  #assertOpen (action: string): void {
    if (this.#closing !== null) {
      throw new SchedulerError(ErrorCodes.INVALID_STATE, `Cannot ${action}: the scheduler has been shut down`, 409)
    }
  }

  #get (id: string): JobRecord {
    const job = this.#jobs.get(id)
    if (job === undefined) throw new SchedulerError(ErrorCodes.JOB_NOT_FOUND, `No job with id ${describe(id)}`, 404)
    return job
  }

  /** A trigger from a spec (anchored at `anchor`) or a ready Trigger object; errors name the job. */
  #buildTrigger (id: string, spec: TriggerSpec | Trigger, anchor: number): Trigger {
    if (isTriggerObject(spec)) {
      if (typeof spec.toJSON !== 'function' || !(typeof spec.jitter === 'number' && spec.jitter >= 0 && Number.isFinite(spec.jitter))) {
        throw invalidJob(id, 'trigger', spec, 'a Trigger object needs next(after), toJSON() and a jitter >= 0')
      }
      return spec
    }
    try {
      return createTrigger(spec, { timezone: this.#timezone, anchor })
    } catch (err) {
      if (err instanceof SchedulerError) {
        throw new SchedulerError(err.code, `Job ${describe(id)}: ${err.message}`, err.statusCode, { cause: err })
      }
      throw new SchedulerError(ErrorCodes.INVALID_TRIGGER, `Job ${describe(id)}: invalid trigger ${describe(spec)}: ${String(err)}`, 500, { cause: err })
    }
  }

  /**
   * Queues a job's first fire after `now` when the scheduler is started and the
   * job isn't paused. Intervals are anchored at `now` (a fresh trigger unless
   * `trigger` was just built with that anchor); `immediate` fires at the anchor.
   */
  #scheduleIfDue (job: JobRecord, now: number, trigger: Trigger | null): void {
    if (this.#state === 'stopped' || job.paused) return
    const spec = job.spec as { interval?: unknown, immediate?: unknown }
    const anchored = !isTriggerObject(job.spec) && spec.interval !== undefined
    if (anchored && trigger === null) job.series = fireSeries(this.#buildTrigger(job.id, job.spec, now))
    const first = nextFire(job.series, anchored && spec.immediate === true ? now - 1 : now)
    this.#queueFire(job, first)
    this.#arm()
  }

  #queueFire (job: JobRecord, fire: number | null): void {
    if (fire === null) {
      // Exhausted: out of the heap, nextRunAt null.
      this.#unschedule(job)
      return
    }
    job.fire = fire
    const jitter = job.series.trigger.jitter
    const due = jitter > 0 ? fire + Math.random() * jitter : fire
    if (job.entry === null) job.entry = this.#queue.push(job, due)
    else this.#queue.update(job.entry, due)
  }

  #unschedule (job: JobRecord): void {
    if (job.entry !== null) this.#queue.remove(job.entry)
    job.fire = Number.NaN
  }

  /** Arms the one timer for the earliest due fire, unless it is armed for it already. */
  #arm (): void {
    const head = this.#queue.peek()
    if (this.#state === 'stopped' || head === undefined) {
      this.#disarm()
      return
    }
    if (this.#timer !== undefined && head.due === this.#armedFor) return
    this.#disarm()
    this.#armedFor = head.due
    // Capped here too, whatever the clock: a long wait is re-armed after re-reading the clock.
    this.#timer = this.#clock.setTimeout(this.#wake, Math.min(Math.max(0, head.due - this.#clock.now()), MAX_WAIT))
  }

  #disarm (): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  readonly #wake = (): void => {
    this.#timer = undefined
    try {
      this.#runDue()
    } finally {
      // Whatever happened above, the loop goes on (DESIGN rule 6).
      this.#arm()
    }
  }

  #runDue (): void {
    // The clock is re-read on every wake and compared with absolute due times:
    // a timer that fires early finds nothing due and just re-arms.
    const now = this.#clock.now()
    // At most as many entries as were queued: a handler that re-queues its own
    // job at `now` (an immediate interval) waits for the next wake instead of
    // looping here forever.
    for (let budget = this.#queue.size; budget > 0; budget--) {
      const head = this.#queue.peek()
      if (head === undefined || head.due > now) return
      const job = head.value
      try {
        this.#catchUp(job, now)
      } catch (err) {
        // Only a trigger can throw here (a custom one, or a bug): unschedule the
        // job rather than spin on it; resumeJob/rescheduleJob schedules it again.
        this.#unschedule(job)
        this.#logger.error({ err, jobId: job.id }, 'fastify-scheduler: computing the next fire failed; the job is unscheduled')
      }
    }
  }

  /**
   * Consumes a job's due fires at `now` (DESIGN rule 4) and queues its next
   * fire. Counting never enumerates an unbounded number of fires (lib/fires.ts).
   */
  #catchUp (job: JobRecord, now: number): void {
    const series = job.series
    const first = job.fire
    const due = (job.entry as QueueEntry<JobRecord>).due
    if (this.#state === 'paused') {
      const count = countFires(series, first, now + 1)
      const latest = lastFireAtOrBefore(series, first, now)
      this.#queueFire(job, nextFire(series, now))
      this.#skip(job, latest, 'paused', count)
      return
    }
    const grace = job.options.misfireGraceTime
    let missed = 0
    let from: number | null = first
    if (grace !== null && now - due > grace) {
      // Fires more than `grace` late are not run; the first due one counts by
      // its jittered time, the rest by their own.
      // Fire times are whole ms: rounding up keeps "< cutoff" and ">= cutoff" exact complements.
      const cutoff = Math.ceil(now - grace)
      missed = countFires(series, first, cutoff)
      from = nextFire(series, cutoff - 1)
      if (from !== null && from > now) from = null
    }
    let next: number | null
    let fires: number[] | null = null
    if (from === null) {
      next = nextFire(series, now)
    } else {
      // The usual case, a fire on time: the fire after it is already the next
      // one (nothing lies between it and now), one call of the trigger.
      const after = nextFire(series, from)
      if (after === null || after > now) {
        next = after
      } else if (job.options.coalesce) {
        from = lastFireAtOrBefore(series, after, now)
        next = nextFire(series, now)
      } else {
        fires = [from]
        let at: number | null = after
        while (at !== null && at <= now && fires.length < CATCH_UP_LIMIT) {
          fires.push(at)
          at = nextFire(series, at)
        }
        if (at !== null && at <= now) missed += countFires(series, at, now + 1)
        next = nextFire(series, now)
      }
    }
    // Queue the next fire before running anything: a handler may pause,
    // remove or reschedule its own job.
    this.#queueFire(job, next)
    if (missed > 0) {
      job.stats.missed += missed
      this.#logger.warn({ jobId: job.id, count: missed }, 'fastify-scheduler: fires missed')
      this.#events.emit('job:missed', { id: job.id, scheduledAt: new Date(first), count: missed })
    }
    if (fires === null) {
      if (from !== null && this.#canFire(job)) this.#fire(job, from)
      return
    }
    for (const at of fires) {
      if (!this.#canFire(job)) break
      this.#fire(job, at)
    }
  }

  /** Whether a due fire of `job` may still run: an earlier run of this wake may have paused or removed it. */
  #canFire (job: JobRecord): boolean {
    return this.#state === 'running' && !job.paused && !job.removed
  }

  /** Starts a run for the fire at `scheduledAt`, or skips it when maxInstances runs are live. */
  #fire (job: JobRecord, scheduledAt: number): Run<JobRecord> | null {
    if (job.running >= job.options.maxInstances) {
      this.#skip(job, scheduledAt, 'max-instances', 1)
      return null
    }
    const run = new Run(job, scheduledAt, this.#host)
    job.running++
    job.stats.runs++
    this.#active.add(run)
    if (this.#events.has('job:start')) {
      this.#events.emit('job:start', { id: job.id, runId: run.runId, scheduledAt: run.scheduledDate, startedAt: new Date(this.#clock.now()) })
    }
    run.start()
    return run
  }

  /** A run has ended: count it, keep it as `lastRun` (in place, as numbers), tell listeners. */
  #finish (run: Run<JobRecord>): void {
    const job = run.job
    this.#active.delete(run)
    job.running--
    const status = run.status as RunStatus
    const last = job.lastRun
    if (last === null) {
      job.lastRun = { runNumber: run.runNumber, scheduledAt: run.scheduledAt, startedAt: run.startedAt, finishedAt: run.finishedAt, durationMs: run.durationMs, status, error: run.error }
    } else {
      last.runNumber = run.runNumber
      last.scheduledAt = run.scheduledAt
      last.startedAt = run.startedAt
      last.finishedAt = run.finishedAt
      last.durationMs = run.durationMs
      last.status = status
      last.error = run.error
    }
    if (status === 'success') {
      job.stats.successes++
      if (this.#events.has('job:success')) {
        this.#events.emit('job:success', { id: job.id, runId: run.runId, scheduledAt: run.scheduledDate, startedAt: run.startedDate, finishedAt: run.finishedDate, durationMs: run.durationMs, result: run.result })
      }
    } else {
      job.stats.failures++
      if (this.#events.has('job:error')) {
        this.#events.emit('job:error', { id: job.id, runId: run.runId, scheduledAt: run.scheduledDate, startedAt: run.startedDate, finishedAt: run.finishedDate, durationMs: run.durationMs, status, error: run.cause as Error })
      }
    }
  }

  #skip (job: JobRecord, scheduledAt: number, reason: 'paused' | 'max-instances', count: number): void {
    job.stats.skipped += count
    this.#logger[reason === 'paused' ? 'debug' : 'warn']({ jobId: job.id, reason, count }, 'fastify-scheduler: fire skipped')
    this.#events.emit('job:skipped', { id: job.id, scheduledAt: new Date(scheduledAt), reason, count })
  }

  #changed (job: JobRecord, change: 'paused' | 'resumed' | 'rescheduled' | 'replaced'): JobStatus {
    const status = this.#status(job)
    this.#events.emit('job:updated', { id: job.id, change, job: status })
    return status
  }

  #status (job: JobRecord): JobStatus {
    return {
      id: job.id,
      name: job.name,
      trigger: job.series.trigger.toJSON(),
      paused: job.paused,
      running: job.running,
      nextRunAt: Number.isNaN(job.fire) ? null : new Date(job.fire).toISOString(),
      lastRun: lastRunOf(job.lastRun, this.instanceId),
      stats: { ...job.stats }
    }
  }
}

/** `JobStatus.lastRun`: the kept numbers as ISO strings, made now rather than on every run. */
function lastRunOf (last: LastRunState | null, instanceId: string): LastRun | null {
  if (last === null) return null
  return {
    runId: runIdOf(last.runNumber),
    scheduledAt: new Date(last.scheduledAt).toISOString(),
    startedAt: new Date(last.startedAt).toISOString(),
    finishedAt: new Date(last.finishedAt).toISOString(),
    durationMs: last.durationMs,
    status: last.status,
    error: last.error,
    instanceId
  }
}

// ---------------------------------------------------------------- validation

type Reject = (field: string, value: unknown, rule: string) => SchedulerError

function invalidJob (id: unknown, field: string, value: unknown, rule: string): SchedulerError {
  return new SchedulerError(ErrorCodes.INVALID_JOB, `Job ${describe(id)}: invalid ${field} ${describe(value)}: ${rule}`, 400)
}

/** Checks a definition's shape; returns it typed. Job options are checked by jobOptions. */
function validateDefinition<TData, TOwner> (definition: JobDefinition<TData, TOwner>): JobDefinition<TData, TOwner> {
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition)) {
    throw new SchedulerError(ErrorCodes.INVALID_JOB, `Invalid job ${describe(definition)}: expected an object { id, trigger, handler }`, 400)
  }
  const { id } = definition
  if (typeof id !== 'string' || id === '') {
    throw new SchedulerError(ErrorCodes.INVALID_JOB, `Invalid job id ${describe(id)}: must be a non-empty string`, 400)
  }
  for (const key of Object.keys(definition)) {
    if (!JOB_FIELDS.has(key)) throw invalidJob(id, 'field', key, `unknown; known fields: ${[...JOB_FIELDS].join(', ')}`)
  }
  if (definition.name !== undefined && typeof definition.name !== 'string') throw invalidJob(id, 'name', definition.name, 'must be a string')
  if (typeof definition.handler !== 'function') throw invalidJob(id, 'handler', definition.handler, 'must be a function')
  if (definition.trigger === undefined) throw invalidJob(id, 'trigger', definition.trigger, 'is required')
  for (const flag of ['paused', 'replaceExisting'] as const) {
    if (definition[flag] !== undefined && typeof definition[flag] !== 'boolean') throw invalidJob(id, flag, definition[flag], 'must be a boolean')
  }
  return definition
}

/** The job options `source` sets (undefined ones left out), each checked. */
function jobOptions (source: Partial<Record<keyof JobOptions, unknown>>, reject: Reject): Partial<JobOptions> {
  const out: Partial<JobOptions> = {}
  const { maxInstances, coalesce, misfireGraceTime, timeout } = source
  if (maxInstances !== undefined) {
    if (!(typeof maxInstances === 'number' && Number.isSafeInteger(maxInstances) && maxInstances >= 1)) throw reject('maxInstances', maxInstances, 'must be an integer >= 1')
    out.maxInstances = maxInstances
  }
  if (coalesce !== undefined) {
    if (typeof coalesce !== 'boolean') throw reject('coalesce', coalesce, 'must be a boolean')
    out.coalesce = coalesce
  }
  if (misfireGraceTime !== undefined) {
    if (!(misfireGraceTime === null || isDuration(misfireGraceTime, 0))) throw reject('misfireGraceTime', misfireGraceTime, 'must be null or a finite number of milliseconds >= 0')
    out.misfireGraceTime = misfireGraceTime
  }
  if (timeout !== undefined) {
    if (!(timeout === null || isDuration(timeout, Number.MIN_VALUE))) throw reject('timeout', timeout, 'must be null or a finite number of milliseconds > 0')
    out.timeout = timeout
  }
  return out
}

function isDuration (value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min
}

function hasFunctions (value: unknown, names: readonly string[]): boolean {
  return value !== null && typeof value === 'object' && names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function')
}

function isTriggerObject (spec: unknown): spec is Trigger {
  return spec !== null && typeof spec === 'object' && typeof (spec as { next?: unknown }).next === 'function'
}

function checkListener<T> (listener: T): T {
  if (typeof listener !== 'function') throw invalidOption('listener', listener, 'must be a function')
  return listener
}
