/**
 * The scheduler core: the job registry, one timer for every job, misfire and
 * coalesce rules, overlap, lifecycle and events (DESIGN rules 1–7). It knows
 * nothing of Fastify; the plugin is a thin adapter that hands in its logger and
 * itself as `context`.
 */
import { createHash, randomUUID } from 'node:crypto'
import { MAX_WAIT, setDeadline, systemClock, type Clock } from './clock.js'
import { BACKUP_CLAIM_DELAY, BUSY_RETRY_FIRST_MS, BUSY_RETRY_MAX_MS, Cluster, DEFAULT_LEASE_TIME, DEFAULT_POLL_INTERVAL } from './cluster.js'
import { SafeEmitter } from './emitter.js'
import { classOf, jobsOf } from './decorators.js'
import { ErrorCodes, SchedulerError, describe, invalidOption, storeUnavailable } from './errors.js'
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
import { isStore, type Claim, type ClaimKind, type ClaimOutcome, type DeclaredJob, type JobChangeRequest, type LostRun, type SharedDefinition, type Store, type StoredJob, type StoredRun } from './stores/store.js'
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
  /** Recorded in `lastRun.instanceId`; default: a random UUID per scheduler (unique per process, never a bare hostname). */
  instanceId?: string
  /** A shared store: several schedulers on one store act as one (each fire runs once in the fleet). Default: none (this process only). */
  store?: Store
  /** With a store: ms a run's lease lasts without renewal (heartbeats renew it every third of that); default 30000. */
  leaseTime?: number
  /** With a store: ms between re-reads of the stored jobs, the fallback for lost notifications; default 5000. */
  pollInterval?: number
}

/** An instance of the fleet, as `getInstances` and `GET /jobs` show it. */
export interface InstanceStatus {
  id: string
  /** When it last reached the store (ISO); for a scheduler without a store, now. */
  heartbeatAt: string
  startedAt: string
}

/** Without `coalesce`, at most this many due fires of one job run per wake; the rest count as missed. */
export const CATCH_UP_LIMIT = 100

export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000

/** A started run, for callers that need its id before it ends (the `POST /run` route). */
export interface RunHandle {
  /**
   * null when the run was skipped (maxInstances). With a shared store the claim
   * is not known yet: the id the run will have; `started` tells.
   */
  runId: string | null
  /** Resolves with the run's id once it has started, or null when it was skipped. */
  started: Promise<string | null>
  /** Resolves like `runJob`. */
  result: Promise<RunResult>
}

/** A claim of this wake waiting for the store's answer, with what to do when won. */
interface PendingClaim {
  job: JobRecord
  claim: Claim
  /** The run to start when won; null for a 'missed' claim. */
  run: Run<JobRecord> | null
  /** First missed fire, for the job:missed event. */
  firstMissed: number
  /** When the first fire was due here (its jittered time): a backup claim measures its lateness from it. NaN for claims outside a wake. */
  due: number
  /** How a wake's claim was sent (lib/shares.ts): at the due time, or as a backup a moment later; null for claims outside a wake. */
  sent: 'first' | 'backup' | null
  /** Part of a non-coalesced catch-up claimed fire after fire (JobRecord.chain). */
  chained: boolean
  /** Made at a wake already late by the job's deferral: a backup that goes at once. */
  deferred: boolean
  /** The job's `requeued` when this claim was made: one made before the job was queued again from the store is not sent. */
  requeued: number
  /** Later due fires of the same wake (coalesce: false), claimed once this one's outcome is known. */
  rest: number[]
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
  /** With a store: the definition as the fleet shares it, its hash, and the job as last read from the store. */
  shared: SharedDefinition | null
  hash: string
  stored: StoredJob | null
  /** With a store: the stored version its queued fires were computed from; claims carry it, and the store refuses a fire of another version as 'stale'. */
  version: number
  /** With a store: whether the job is this instance's share (lib/shares.ts), as of the fleet's `shareEpoch`. */
  mine: boolean
  shareEpoch: number
  /**
   * With a store, for a job that is not this instance's share: whether to claim
   * it at the due time anyway. Set when a backup claim wins (the instance whose
   * share it is didn't claim the fire: it died, is paused, or hasn't the job);
   * cleared when a claim at the due time finds the fire taken (someone claims
   * it first again), and when the fleet changes.
   */
  prompt: boolean
  /**
   * With a store: how much later than its due time the job's queued fire wakes
   * this instance (0: at its due time). A job another instance claims first is
   * queued BACKUP_CLAIM_DELAY late (less for a job whose next fire comes
   * sooner), so that its wake is the backup claim's: nothing of it is done in
   * the burst at the due time, when the instances whose share it is claim.
   */
  deferral: number
  /**
   * With a store: a non-coalesced catch-up of this job being claimed, fire
   * after fire (#claimRest). The job's later claims wait for it: one decided
   * first would move the watermark past the catch-up's fires, which would then
   * be refused as taken, neither run nor counted missed.
   */
  chain: { done: Promise<void>, end: () => void } | null
  /** With a store: bumped each time its fires are queued again from what the store holds (a change, a resync). */
  requeued: number
  /** Logged once: the store runs another definition of this job than this instance's code. */
  warnedDefinition: boolean
  /** Pause, resume and reschedule requests the store hasn't acknowledged yet (it was unreachable): replayed, in order, on reconnect. */
  pendingChanges: JobChangeRequest[]
  /** The reconciliation of a job added at runtime, while it is on its way to the store. */
  declaring: Promise<void> | null
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

const JOB_FIELDS = new Set(['id', 'name', 'trigger', 'handler', 'data', 'maxInstances', 'coalesce', 'misfireGraceTime', 'timeout', 'onLost', 'paused', 'replaceExisting'])
const OPTION_FIELDS = ['maxInstances', 'coalesce', 'misfireGraceTime', 'timeout', 'onLost'] as const
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
  /** With a store: the connection to the fleet; null for a scheduler of its own. */
  readonly #cluster: Cluster | null = null
  /** With a store: this wake's claims, sent at its end: this instance's share in one round trip, the backups in another a moment later. */
  #claims: PendingClaim[] = []
  /** Claims sent and not answered yet (shutdown waits for them). */
  readonly #claiming = new Set<Promise<void>>()
  /** Timers of backup claims waiting to be sent (lib/shares.ts); cleared at shutdown. */
  readonly #backups = new Set<unknown>()
  /** Wake claims held back behind catch-ups that have just ended, about to go together (#afterChain). */
  #released: PendingClaim[] = []
  /** Claims the store answered 'busy', waiting to go again: each wait's timer, and what ends the wait early (shutdown). */
  readonly #busyWaits = new Map<unknown, () => void>()
  #startedAt = Number.NaN
  #booting: Promise<void> | null = null
  #instances: InstanceStatus[] = []

  constructor (options: SchedulerCoreOptions<TOwner> = {}) {
    if (options === null || typeof options !== 'object') throw invalidOption('options', options, 'expected an object')
    const { timezone, clock, logger, defaults, shutdownTimeout, instanceId, store, leaseTime, pollInterval } = options
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
    if (store !== undefined && !isStore(store)) {
      throw invalidOption('store', store, 'expected a Store, such as postgresStore(...) from fastify-scheduler/postgres or redisStore(...) from fastify-scheduler/redis')
    }
    for (const [name, value] of [['leaseTime', leaseTime], ['pollInterval', pollInterval]] as const) {
      if (value !== undefined && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 3)) {
        throw invalidOption(name, value, 'must be a whole number of milliseconds >= 3')
      }
    }
    this.#timezone = timezone
    this.#logger = logger ?? noopLogger
    this.instanceId = instanceId ?? randomUUID()
    if (store !== undefined) {
      this.#cluster = new Cluster(store, this.instanceId, clock ?? systemClock, this.#logger, {
        leaseTime: leaseTime ?? DEFAULT_LEASE_TIME,
        pollInterval: pollInterval ?? DEFAULT_POLL_INTERVAL
      }, {
        liveFences: () => this.#liveFences(),
        lost: (fences) => { this.#lostRuns(fences) },
        swept: (runs) => { this.#swept(runs) },
        apply: (jobs, resync) => { this.#applyStored(jobs, resync) },
        jobIds: () => [...this.#jobs.keys()],
        changed: (versions) => this.#changedJobs(versions),
        sharesChanged: () => { this.#undefer() }
      })
    }
    // With a store, every time is read through the clock corrected to the store's.
    this.#clock = this.#cluster?.clock ?? clock ?? systemClock
    this.#defaults = { ...DEFAULT_JOB_OPTIONS, ...jobOptions(defaults ?? {}, (field, value, rule) => invalidOption(`defaults.${field}`, value, rule)) }
    this.#shutdownTimeout = shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT
    this.#owner = options.context as TOwner
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
    const name = def.name ?? def.id
    const { shared, hash } = this.#share(def.id, name, def.trigger, options)
    if (existing !== undefined) {
      // Replaced in place: live runs (for maxInstances), lastRun and stats stay with the id.
      this.#unschedule(existing)
      Object.assign(existing, { name, handler, data: def.data, options, spec: def.trigger, series: fireSeries(trigger), paused: def.paused === true, owner: this.#owner, shared, hash, warnedDefinition: false })
      this.#scheduleIfDue(existing, now, trigger)
      return this.#changed(existing, 'replaced')
    }
    const job: JobRecord = {
      id: def.id,
      name,
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
      owner: this.#owner,
      shared,
      hash,
      stored: null,
      version: 0,
      mine: true,
      shareEpoch: -1,
      prompt: false,
      deferral: 0,
      chain: null,
      requeued: 0,
      warnedDefinition: false,
      pendingChanges: [],
      declaring: null
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
    this.#tellStore(job, { paused: true })
    return this.#changed(job, 'paused')
  }

  /** Resumes a paused job; its next fire is computed from now (an interval is anchored now). */
  resumeJob (id: string): JobStatus {
    const job = this.#get(id)
    if (!job.paused) return this.#status(job)
    job.paused = false
    // With a store, the fire is queued when the store has re-anchored the job.
    if (this.#cluster === null) this.#scheduleIfDue(job, this.#clock.now(), null)
    else this.#tellStore(job, { paused: false })
    return this.#changed(job, 'resumed')
  }

  /** Gives a job a new trigger; its next fire is computed from now. */
  rescheduleJob (id: string, trigger: TriggerSpec | Trigger): JobStatus {
    const job = this.#get(id)
    if (trigger === undefined) throw invalidJob(id, 'trigger', trigger, 'is required')
    const now = this.#clock.now()
    const built = this.#buildTrigger(id, trigger, now)
    const { shared, hash } = this.#share(id, job.name, trigger, job.options)
    this.#unschedule(job)
    job.spec = trigger
    job.series = fireSeries(built)
    if (this.#cluster === null) {
      this.#scheduleIfDue(job, now, built)
    } else {
      job.shared = shared
      job.hash = hash
      this.#tellStore(job, { definition: shared as SharedDefinition, hash })
    }
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
    if (this.#cluster !== null) return this.#startSharedRun(job)
    const run = this.#fire(job, this.#clock.now())
    if (run === null) return { runId: null, started: Promise.resolve(null), result: Promise.resolve(skipped()) }
    return { runId: run.runId, started: Promise.resolve(run.runId), result: resultOf(run) }
  }

  /** A manual run with a store: claimed first, so maxInstances counts the fleet's runs. */
  #startSharedRun (job: JobRecord): RunHandle {
    const run = new Run(job, this.#clock.now(), this.#host)
    run.endAtOnce = true
    // A job added a moment ago may still be on its way to the store: claim once it is there.
    const started = (job.declaring ?? Promise.resolve()).then(async () => await this.#sendClaims([pendingClaim(job, 'manual', run.scheduledAt, run, job.version)])).then((reached) => {
      if (!reached) throw storeUnavailable((this.#cluster as Cluster).store.kind, (this.#cluster as Cluster).store.address, 'run a job', 'not reachable')
      return run.fence === 0 ? null : run.runId
    })
    const result = started.then(async (runId) => runId === null ? skipped() : await resultOf(run))
    // Callers may await only one of the two: neither may report an unhandled rejection.
    started.catch(noop)
    result.catch(noop)
    return { runId: run.runId, started, result }
  }

  /**
   * With a store: re-reads the fleet's state of every job (paused, stats,
   * lastRun, live runs) and the instances, so getJob/getJobs show it now. The
   * routes call it; between calls those show the state of the last read
   * (polls and notifications keep it fresh). A store that can't be reached
   * leaves the last state. Without a store: nothing to do.
   */
  async refresh (): Promise<void> {
    const cluster = this.#cluster
    if (cluster === null) return
    const [jobs, instances] = await Promise.all([cluster.readJobs([...this.#jobs.keys()]), cluster.instances()])
    if (jobs !== null) this.#applyStored(jobs, false)
    if (instances !== null) {
      this.#instances = instances.map((i) => ({ id: i.id, heartbeatAt: new Date(i.heartbeatAt).toISOString(), startedAt: new Date(i.startedAt).toISOString() }))
    }
  }

  /** The instances of the fleet (as of the last `refresh`); without a store, this one. */
  getInstances (): InstanceStatus[] {
    if (this.#cluster !== null) return this.#instances.map((i) => ({ ...i }))
    const now = new Date(this.#clock.now()).toISOString()
    return [{ id: this.instanceId, heartbeatAt: now, startedAt: Number.isNaN(this.#startedAt) ? now : new Date(this.#startedAt).toISOString() }]
  }

  getJob (id: string): JobStatus | undefined {
    const job = this.#jobs.get(id)
    return job === undefined ? undefined : this.#status(job)
  }

  getJobs (): JobStatus[] {
    return Array.from(this.#jobs.values(), (job) => this.#status(job))
  }

  // ----------------------------------------------------------- lifecycle

  /**
   * Starts firing; intervals without `startAt` are anchored now. No-op unless
   * stopped. Without a store it has started when it returns; with one it
   * connects and reconciles the jobs first, and the promise rejects with
   * FST_SCHEDULER_STORE_UNAVAILABLE when the store can't be reached.
   */
  start (): Promise<void> {
    this.#assertOpen('start')
    if (this.#cluster !== null) {
      this.#booting ??= this.#startShared(this.#cluster).finally(() => { this.#booting = null })
      return this.#booting
    }
    if (this.#state === 'stopped') {
      this.#state = 'running'
      const now = this.#clock.now()
      this.#startedAt = now
      for (const job of this.#jobs.values()) this.#scheduleIfDue(job, now, null)
      this.#arm()
      this.#events.emit('scheduler:start', { state: this.#state })
    }
    return Promise.resolve()
  }

  async #startShared (cluster: Cluster): Promise<void> {
    if (this.#state !== 'stopped') return
    const jobs = [...this.#jobs.values()]
    const stored = await cluster.open(jobs.map(declaration))
    if (this.#closing !== null) return
    this.#state = 'running'
    this.#startedAt = this.#clock.now()
    this.#applyStored(stored, true)
    // Jobs added while the store was being reached.
    const late = [...this.#jobs.values()].filter((job) => job.stored === null)
    if (late.length > 0) this.#declare(late)
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
    // Claims already sent: a won one is ended as aborted rather than left to its lease.
    this.#claims = []
    for (const timer of this.#backups) this.#clock.clearTimeout(timer)
    this.#backups.clear()
    for (const [timer, end] of this.#busyWaits) {
      this.#clock.clearTimeout(timer)
      end()
    }
    this.#busyWaits.clear()
    if (this.#cluster !== null) {
      if (this.#booting !== null) await this.#booting.catch(noop)
      await Promise.all(this.#claiming)
    }
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
    if (this.#cluster !== null) await this.#cluster.close()
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
    if (this.#state === 'stopped') return
    if (this.#cluster !== null) {
      // With a store the fires are queued from the stored anchor and watermark;
      // a paused job is declared too (so it can be resumed, here or anywhere).
      this.#declare([job])
      return
    }
    if (job.paused) return
    const spec = job.spec as { interval?: unknown, immediate?: unknown }
    const anchored = !isTriggerObject(job.spec) && spec.interval !== undefined
    if (anchored && trigger === null) job.series = fireSeries(this.#buildTrigger(job.id, job.spec, now))
    const first = nextFire(job.series, anchored && spec.immediate === true ? now - 1 : now)
    this.#queueFire(job, first)
    this.#arm()
  }

  /** Queues the job's next fire; `defer`: as a backup's (JobRecord.deferral) when another instance claims the job first. */
  #queueFire (job: JobRecord, fire: number | null, defer = false): void {
    job.deferral = 0
    if (fire === null) {
      // Exhausted: out of the heap, nextRunAt null.
      this.#unschedule(job)
      return
    }
    job.fire = fire
    const jitter = job.series.trigger.jitter
    let due = jitter > 0 ? fire + Math.random() * jitter : fire
    if (defer && !this.#claimsFirst(job)) {
      // Halfway to the fire after at the latest, as #sendWakeClaims: this fire's backup claim must not come after that one's.
      const after = nextFire(job.series, fire)
      job.deferral = after === null ? BACKUP_CLAIM_DELAY : Math.min(BACKUP_CLAIM_DELAY, Math.floor((after - fire) / 2))
      due += job.deferral
    }
    if (job.entry === null) job.entry = this.#queue.push(job, due)
    else this.#queue.update(job.entry, due)
  }

  /** The fleet changed: queued fires deferred as backups' that this instance now claims first wake at their due time. */
  #undefer (): void {
    let moved = false
    for (const job of this.#jobs.values()) {
      if (job.deferral > 0 && this.#claimsFirst(job)) {
        this.#onTime(job)
        moved = true
      }
    }
    if (moved) this.#arm()
  }

  /** Queues the job's deferred fire (JobRecord.deferral) at its due time again; true when it was deferred. */
  #onTime (job: JobRecord): boolean {
    if (job.deferral === 0 || job.entry === null) return false
    this.#queue.update(job.entry, job.entry.due - job.deferral)
    job.deferral = 0
    return true
  }

  /** With a store: whether this instance claims the job at its due time (its share, or JobRecord.prompt), as of the fleet it knows. */
  #claimsFirst (job: JobRecord): boolean {
    const shares = (this.#cluster as Cluster).shares
    if (job.shareEpoch !== shares.epoch) {
      job.mine = shares.isMine(job.id)
      job.shareEpoch = shares.epoch
      job.prompt = false
    }
    return job.mine || job.prompt
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
      const now = this.#runDue()
      if (this.#claims.length > 0) {
        const claims = this.#claims
        this.#claims = []
        this.#sendWakeClaims(claims, now)
      }
    } finally {
      // Whatever happened above, the loop goes on (DESIGN rule 6).
      this.#arm()
    }
  }

  /** Consumes the fires due now; returns the time it read as now. */
  #runDue (): number {
    // The clock is re-read on every wake and compared with absolute due times:
    // a timer that fires early finds nothing due and just re-arms.
    const now = this.#clock.now()
    // At most as many entries as were queued: a handler that re-queues its own
    // job at `now` (an immediate interval) waits for the next wake instead of
    // looping here forever.
    for (let budget = this.#queue.size; budget > 0; budget--) {
      const head = this.#queue.peek()
      if (head === undefined || head.due > now) return now
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
    return now
  }

  /**
   * Consumes a job's due fires at `now` (DESIGN rule 4) and queues its next
   * fire. Counting never enumerates an unbounded number of fires (lib/fires.ts).
   */
  #catchUp (job: JobRecord, now: number): void {
    const series = job.series
    const first = job.fire
    // When the fire was due: a deferred wake (JobRecord.deferral) is a backup's. Its claim goes at
    // once, unless the wake came later than that by more than the deferral (this instance was
    // stalled, the store unreachable): then, as after any late wake, it waits another backup delay,
    // for the instances that claim the job first and were held up too.
    const due = (job.entry as QueueEntry<JobRecord>).due - job.deferral
    const deferred = job.deferral > 0 && now - due < 2 * job.deferral
    const shared = this.#cluster !== null
    if (this.#state === 'paused' && shared) {
      // A paused instance leaves the fires to the rest of the fleet.
      this.#queueFire(job, nextFire(series, now), true)
      return
    }
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
    let cutoff = Number.NaN
    if (grace !== null && now - due > grace) {
      // Fires more than `grace` late are not run; the first due one counts by
      // its jittered time, the rest by their own.
      // Fire times are whole ms: rounding up keeps "< cutoff" and ">= cutoff" exact complements.
      cutoff = Math.ceil(now - grace)
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
    this.#queueFire(job, next, shared)
    if (shared) {
      this.#queueClaims(job, fires ?? (from === null ? [] : [from]), missed, first, cutoff, due, deferred)
      return
    }
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
    this.#startRun(job, run)
    return run
  }

  #startRun (job: JobRecord, run: Run<JobRecord>): void {
    job.running++
    job.stats.runs++
    this.#active.add(run)
    if (this.#events.has('job:start')) {
      this.#events.emit('job:start', { id: job.id, runId: run.runId, scheduledAt: run.scheduledDate, startedAt: new Date(this.#clock.now()) })
    }
    run.start()
  }

  /** A run has ended: count it, keep it as `lastRun` (in place, as numbers), tell listeners. */
  #finish (run: Run<JobRecord>): void {
    const job = run.job
    this.#active.delete(run)
    job.running--
    const status = run.status as RunStatus
    if (run.fence !== 0) {
      (this.#cluster as Cluster).ended({ fence: run.fence, jobId: job.id, status, startedAt: run.startedAt, finishedAt: run.finishedAt, durationMs: run.durationMs, error: run.error }, run.endAtOnce)
    }
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

  // -------------------------------------------------------- shared store

  /** The definition as the fleet shares it (trigger spec, zone, options) and its hash; null without a store. */
  #share (id: string, name: string, spec: TriggerSpec | Trigger, options: JobOptions): { shared: SharedDefinition | null, hash: string } {
    if (this.#cluster === null) return { shared: null, hash: '' }
    if (isTriggerObject(spec)) {
      throw invalidJob(id, 'trigger', spec, 'a shared store needs a trigger spec ({ cron }, { interval } or { at }); a Trigger object can\'t be stored')
    }
    const shared: SharedDefinition = { name, trigger: JSON.parse(JSON.stringify(spec)), zone: resolveZone(this.#timezone), options: { ...options } }
    return { shared, hash: hashOf(shared) }
  }

  /**
   * Sends a pause, resume or new definition to the store; the answer is
   * applied like a re-read. Kept until the store has it: a change made while
   * the store is unreachable is replayed on reconnect, never silently undone.
   */
  #tellStore (job: JobRecord, change: JobChangeRequest): void {
    if (this.#cluster === null) return
    job.pendingChanges.push(change)
    if (job.pendingChanges.length === 1) this.#background(this.#sendChanges(job))
  }

  async #sendChanges (job: JobRecord): Promise<void> {
    const cluster = this.#cluster as Cluster
    while (job.pendingChanges.length > 0) {
      const stored = await cluster.change(job.id, job.pendingChanges[0])
      if (stored === null) {
        // Unreachable: kept for the reconnect. Unknown to the store: declared (as it is now), which carries the change.
        if (cluster.reachable) {
          job.pendingChanges = []
          this.#declare([job])
        }
        return
      }
      job.pendingChanges.shift()
      if (job.pendingChanges.length === 0) this.#applyStored([stored], false)
    }
  }

  /** Reconciles jobs added at runtime with the store, then queues them from what it holds. */
  #declare (jobs: JobRecord[]): void {
    const declared = (this.#cluster as Cluster).declare(jobs.map(declaration)).then((stored) => {
      if (stored !== null) this.#applyStored(stored, true)
    })
    const settled = declared.catch(noop)
    for (const job of jobs) job.declaring = settled
    this.#background(declared.finally(() => {
      for (const job of jobs) if (job.declaring === settled) job.declaring = null
    }))
  }

  /** Applies the store's view of jobs; their fires are queued again when it changed (or on `resync`). */
  #applyStored (jobs: StoredJob[], resync: boolean): void {
    for (const stored of jobs) {
      const job = this.#jobs.get(stored.id)
      if (job !== undefined) this.#applyOne(job, stored, resync)
    }
    this.#arm()
  }

  /** The ids among these stored versions whose job this instance last read at another version (or not at all). */
  #changedJobs (versions: Record<string, number>): string[] {
    return Object.keys(versions).filter((id) => this.#jobs.get(id)?.stored?.version !== versions[id])
  }

  #applyOne (job: JobRecord, stored: StoredJob, resync: boolean): void {
    const previous = job.stored
    job.stored = stored
    if (job.pendingChanges.length > 0) {
      // This instance's own changes haven't reached the store: they win, and go first on a reconnect.
      if (resync) this.#background(this.#sendChanges(job))
      return
    }
    if (!resync && previous !== null && previous.version === stored.version) return
    if (stored.hash !== job.hash && !job.warnedDefinition) {
      job.warnedDefinition = true
      this.#logger.warn({ jobId: job.id }, 'fastify-scheduler: the store holds another definition of this job than this instance\'s code (another version of the code, or a rescheduleJob); this instance follows the stored one')
    }
    this.#unschedule(job)
    job.requeued++
    let trigger: Trigger
    try {
      trigger = createTrigger(stored.definition.trigger as unknown as TriggerSpec, { timezone: stored.definition.zone, anchor: stored.anchorAt })
    } catch (err) {
      this.#logger.error({ err, jobId: job.id }, 'fastify-scheduler: this instance can\'t read the stored definition of this job; it is not scheduled here')
      return
    }
    job.series = fireSeries(trigger)
    job.version = stored.version
    job.options = { ...job.options, ...stored.definition.options }
    job.paused = stored.paused
    if (this.#state === 'stopped' || job.paused) return
    // Fires after the watermark (the latest settled one) and from the anchor on; earlier ones are settled.
    // As without a store: the first fire is strictly after the anchor, except an immediate interval's, at it.
    const immediate = (stored.definition.trigger as { immediate?: unknown }).immediate === true
    const fromAnchor = immediate ? stored.anchorAt - 1 : stored.anchorAt
    const watermark = stored.watermark
    this.#queueFire(job, nextFire(job.series, watermark !== null && watermark >= fromAnchor ? watermark : fromAnchor))
  }

  /** Turns a job's due fires of this wake into claims (sent together at the end of the wake). */
  #queueClaims (job: JobRecord, fires: number[], missed: number, first: number, cutoff: number, due: number, deferred: boolean): void {
    // No fire to run only past misfireGraceTime, with at least the first due fire missed: then
    // the missed fires are claimed alone, so the count is kept once in the fleet. Otherwise the
    // due time of the fire claimed: the first due fire's (jittered) time, or its own when that one was missed.
    const pending = fires.length === 0
      ? this.#missedClaim(job, job.version, lastFireAtOrBefore(job.series, first, cutoff - 1) as number, missed, first)
      : this.#fireClaim(job, job.version, fires[0], missed, first, fires.slice(1), fires[0] === first ? due : fires[0])
    pending.deferred = deferred
    this.#claims.push(pending)
  }

  /** A claim of the fire at `at`, computed from the job's stored `version`. */
  #fireClaim (job: JobRecord, version: number, at: number, missed: number, first: number, rest: number[], due = Number.NaN): PendingClaim {
    return pendingClaim(job, 'fire', at, new Run(job, at, this.#host), version, { missed, firstMissed: first, due, rest })
  }

  /** A claim that only records `missed` fires, the latest at `at` (too late to run). */
  #missedClaim (job: JobRecord, version: number, at: number, missed: number, first: number): PendingClaim {
    return pendingClaim(job, 'missed', at, null, version, { missed, firstMissed: first })
  }

  /**
   * A wake's claims: those of the jobs this instance claims first (its share,
   * or jobs whose share's instance doesn't claim them) go now; the others are
   * backups, sent a moment later, when the store has nearly always settled
   * them already (lib/shares.ts).
   */
  #sendWakeClaims (claims: PendingClaim[], now: number): void {
    const first: PendingClaim[] = []
    const backups: PendingClaim[] = []
    let delay = BACKUP_CLAIM_DELAY
    for (const pending of claims) {
      const job = pending.job
      if (job.chain !== null) {
        this.#afterChain(job.chain, pending)
        continue
      }
      if (pending.rest.length > 0) this.#startChain(pending)
      if (this.#claimsFirst(job)) {
        pending.sent = 'first'
        first.push(pending)
      } else if (pending.deferred) {
        // Its wake was the backup's already (its misfires counted from its due time): it goes now.
        pending.sent = 'backup'
        first.push(pending)
      } else {
        pending.sent = 'backup'
        backups.push(pending)
        // Sent halfway to the job's next wake at the latest: a claim of its next fire, which
        // this instance may send at once by then, must not overtake it (the watermark would
        // pass this fire, and it would be refused as taken, neither run nor counted missed).
        if (!Number.isNaN(job.fire)) {
          // (By the next fire's due time: queued as a backup's, it is claimed then once this backup wins.)
          const untilNext = (job.entry as QueueEntry<JobRecord>).due - job.deferral - now
          if (untilNext < 2 * delay) delay = Math.floor(untilNext / 2)
        }
      }
    }
    if (first.length > 0) this.#background(this.#sendClaims(first))
    if (backups.length === 0) return
    const timer = this.#clock.setTimeout(() => {
      this.#backups.delete(timer)
      // Not for a job removed meanwhile (as for a wake's fires without a store), nor one queued
      // again from the store since (the store was unreachable, it changed); a paused instance
      // leaves the fires to the rest of the fleet, as at its wakes.
      const due = backups.filter((pending) => {
        const send = this.#current(pending)
        if (!send) this.#endChain(pending)
        return send
      })
      if (due.length === 0) return
      const now = this.#clock.now()
      this.#background(this.#sendClaims(due.map((pending) => this.#overdue(pending, now))))
    }, delay)
    this.#backups.add(timer)
  }

  /** What a wake's claim's outcome says about who claims the job first (see JobRecord.prompt). */
  #learnShare (pending: PendingClaim, outcome: ClaimOutcome): void {
    const job = pending.job
    if (job.mine) return
    if (pending.sent === 'first' && outcome.status === 'taken') {
      job.prompt = false
    } else if (pending.sent === 'backup' && (outcome.status === 'run' || outcome.status === 'skipped' || outcome.status === 'missed')) {
      job.prompt = true
      // Its next fire, queued as a backup's, is claimed at its due time now.
      if (this.#onTime(job)) this.#arm()
    }
  }

  /**
   * A backup claim as its wake would make it `now`: fires that went past
   * misfireGraceTime while it waited are claimed as missed (the first by its
   * jittered due time, the rest by their own, as in #catchUp).
   */
  #overdue (pending: PendingClaim, now: number): PendingClaim {
    const { job, claim } = pending
    const grace = job.options.misfireGraceTime
    if (grace === null || claim.kind !== 'fire' || now - pending.due <= grace) return pending
    const fires = [claim.scheduledAt, ...pending.rest]
    let late = 1
    while (late < fires.length && now - fires[late] > grace) late++
    const first = claim.missed > 0 ? pending.firstMissed : fires[0]
    const overdue = late === fires.length
      ? this.#missedClaim(job, claim.version, fires[late - 1], claim.missed + late, first)
      : this.#fireClaim(job, claim.version, fires[late], claim.missed + late, first, fires.slice(late + 1), fires[late])
    overdue.sent = pending.sent
    overdue.chained = pending.chained
    return overdue
  }

  /**
   * The later fires of a non-coalesced catch-up, as without a store: when the
   * run just started has already ended (a sync handler), its end reaches the
   * store before the next fire is claimed, so maxInstances doesn't count it;
   * otherwise the rest are claimed together (and skipped beyond maxInstances).
   */
  #claimRest (pending: PendingClaim, taken: boolean): PendingClaim[] {
    const { job, rest } = pending
    // The version the first fire was computed from: the store refuses the rest if the job changed meanwhile.
    const version = pending.claim.version
    // One after the other when no run of this catch-up is live: the first fire was taken
    // (by another instance catching up), or its run has already ended.
    const ended = pending.run?.ended === true
    const claims = taken || ended
      ? [this.#fireClaim(job, version, rest[0], 0, Number.NaN, rest.slice(1))]
      : rest.map((at) => this.#fireClaim(job, version, at, 0, Number.NaN, []))
    for (const claim of claims) claim.chained = true
    return claims
  }

  /** A catch-up claimed fire after fire begins: the job's later claims wait for it (JobRecord.chain). */
  #startChain (pending: PendingClaim): void {
    let end!: () => void
    const done = new Promise<void>((resolve) => { end = resolve })
    pending.job.chain = { done, end }
    pending.chained = true
  }

  /** The job's catch-up has been claimed to its end (or can't be): its later claims go. */
  #endChain (pending: PendingClaim): void {
    const chain = pending.job.chain
    if (!pending.chained || chain === null) return
    pending.job.chain = null
    chain.end()
  }

  /**
   * A wake's claim of a job whose catch-up is being claimed: sent when that is
   * done, with the others released at the same time (the catch-ups of many
   * jobs end in the same round): one round trip for them, not one per job.
   */
  #afterChain (chain: { done: Promise<void> }, pending: PendingClaim): void {
    this.#background(chain.done.then(() => {
      if (this.#current(pending)) this.#release(pending)
    }))
  }

  #release (pending: PendingClaim): void {
    this.#released.push(pending)
    // Sent after every catch-up ending now has released its claim (their callbacks are queued already).
    if (this.#released.length === 1) this.#background(Promise.resolve().then(() => { this.#sendReleased() }))
  }

  #sendReleased (): void {
    const released = this.#released
    this.#released = []
    this.#sendWakeClaims(released, this.#clock.now())
  }

  /**
   * Whether a wake's claim held back (a backup, one behind a catch-up) may still
   * go: the scheduler runs, its job is still here, and its fires weren't queued
   * again from the store since, from the store's watermark (after an outage,
   * say): sent then, it would claim a fire ahead of the earlier ones that
   * re-queueing brought back, and pass the watermark over them.
   */
  #current (pending: PendingClaim): boolean {
    return this.#state === 'running' && !pending.job.removed && pending.requeued === pending.job.requeued
  }

  /**
   * Sends claims in one round trip and acts on the outcomes; false when the
   * store couldn't be reached (nothing ran). Resolves when every claim is
   * decided: those answered 'busy' go again (#claimAgain); `round` counts how
   * many times these were busy.
   */
  async #sendClaims (batch: PendingClaim[], round = 0): Promise<boolean> {
    let reached = false
    const busy: PendingClaim[] = []
    const sent = (this.#cluster as Cluster).claim(batch.map((pending) => pending.claim)).then((outcomes) => {
      if (outcomes === null) {
        // Nothing was decided: a catch-up among them is over here (the resync on reconnect takes it up again).
        for (const pending of batch) this.#endChain(pending)
        return
      }
      reached = true
      const rests: PendingClaim[] = []
      outcomes.forEach((outcome, i) => {
        if (outcome.status === 'busy') {
          busy.push(batch[i])
          return
        }
        const next = this.#claimed(batch[i], outcome)
        if (next.length > 0) rests.push(...next)
      })
      this.#arm()
      // The next claims of the catch-ups among them, in one round trip (however many jobs are catching up).
      // (A run's end reaches the store first: Cluster.claim sends a claimed job's pending ends.)
      if (rests.length > 0) this.#background(this.#sendClaims(rests))
    })
    this.#claiming.add(sent)
    try {
      await sent
    } finally {
      this.#claiming.delete(sent)
    }
    if (busy.length === 0) return reached
    return await this.#claimAgain(busy, round)
  }

  /**
   * Claims the store answered 'busy' (PostgreSQL, whose claims never wait for
   * a job another call holds): sent again after a short wait, doubling each
   * round, as they would be made then (a wake's fire that went past
   * misfireGraceTime meanwhile is claimed as missed). Not at shutdown, nor for
   * a job removed meanwhile; a wake's claim not for a job queued again from
   * the store since either (#current). Nothing is decided for those: a manual
   * run's claim then reports the run skipped.
   */
  async #claimAgain (busy: PendingClaim[], round: number): Promise<boolean> {
    // Answered while shutting down: nothing to wait for, none goes again.
    if (this.#state === 'running') await this.#busyWait(round)
    const now = this.#clock.now()
    const again: PendingClaim[] = []
    for (const pending of busy) {
      if (!this.#wanted(pending)) this.#endChain(pending)
      else again.push(pending.sent === null ? pending : this.#overdue(pending, now))
    }
    if (again.length === 0) return true
    return await this.#sendClaims(again, round + 1)
  }

  /** The wait before busy claims go again (#claimAgain); shutdown ends it early. */
  async #busyWait (round: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#busyWaits.delete(timer)
        resolve()
      }, Math.min(BUSY_RETRY_FIRST_MS * 2 ** round, BUSY_RETRY_MAX_MS))
      this.#busyWaits.set(timer, resolve)
    })
  }

  /** Whether a claim answered 'busy' still goes (#claimAgain). */
  #wanted (pending: PendingClaim): boolean {
    const kind = pending.claim.kind
    if (kind === 'manual' || kind === 'rerun') return this.#state === 'running' && !pending.job.removed
    return this.#current(pending)
  }

  /** Acts on a claim's outcome; returns the next claims of its catch-up, if any. */
  #claimed (pending: PendingClaim, outcome: ClaimOutcome): readonly PendingClaim[] {
    let next: readonly PendingClaim[] = NO_CLAIMS
    try {
      next = this.#decided(pending, outcome)
    } finally {
      // Whatever happened, a catch-up that goes no further lets the job's later claims go.
      if (next.length === 0) this.#endChain(pending)
    }
    return next
  }

  /** Acts on a claim's outcome; returns the claims of the rest of a catch-up, when they are claimed next. */
  #decided (pending: PendingClaim, outcome: ClaimOutcome): readonly PendingClaim[] {
    const { job, claim } = pending
    if (pending.sent !== null) this.#learnShare(pending, outcome)
    const run = pending.run as Run<JobRecord>
    if ((outcome.status === 'run' || outcome.status === 'skipped' || outcome.status === 'missed') && claim.missed > 0) {
      this.#reportMissed(job, pending.firstMissed, claim.missed)
    }
    switch (outcome.status) {
      case 'run':
        run.fence = outcome.fence
        // Won while shutting down, or for a job removed meanwhile: not started (as for a wake's fires without a store).
        if (this.#state === 'stopped' || job.removed) this.#giveBack(run)
        else this.#startRun(job, run)
        break
      case 'skipped':
        this.#skip(job, claim.scheduledAt, 'max-instances', 1)
        break
      case 'early':
        // This clock is ahead of the store's (it stepped): take the store's time,
        // and queue the job again from its watermark, so no fire in between is lost.
        (this.#cluster as Cluster).correctClock(outcome.now)
        this.#background(this.#refreshJob(job.id, true))
        break
      case 'paused':
      case 'stale':
        // The store has a newer view of the job (paused, resumed or redefined): re-read it.
        this.#background(this.#refreshJob(job.id))
        break
      case 'unknown':
        this.#declare([job])
        break
      default:
        // 'taken' (another instance has it), 'missed' (reported above).
        break
    }
    // The rest of a catch-up is claimed also when its first fire was taken: another
    // instance catching up too may not have claimed them all yet.
    if (pending.rest.length > 0 && (outcome.status === 'run' || outcome.status === 'skipped' || outcome.status === 'taken') && this.#state === 'running') {
      return this.#claimRest(pending, outcome.status === 'taken')
    }
    return NO_CLAIMS
  }

  #reportMissed (job: JobRecord, first: number, count: number): void {
    job.stats.missed += count
    this.#logger.warn({ jobId: job.id, count }, 'fastify-scheduler: fires missed')
    this.#events.emit('job:missed', { id: job.id, scheduledAt: new Date(first), count })
  }

  /** Re-reads one job from the store (`resync`: and queues it again from its watermark). */
  async #refreshJob (id: string, resync = false): Promise<void> {
    const jobs = await (this.#cluster as Cluster).readJobs([id])
    if (jobs !== null) this.#applyStored(jobs, resync)
  }

  /** A won claim that won't run (shutting down, or its job removed here): ended at once as aborted, so its lease doesn't linger. */
  #giveBack (run: Run<JobRecord>): void {
    const now = this.#clock.now()
    const why = this.#state === 'stopped' ? 'the scheduler is shutting down' : 'the job was removed from this instance'
    ;(this.#cluster as Cluster).ended({ fence: run.fence, jobId: run.job.id, status: 'aborted', startedAt: now, finishedAt: now, durationMs: 0, error: { name: 'AbortError', message: `Job "${run.job.id}" was not started: ${why}` } })
  }

  /** Store work nobody awaits: a failure is logged, never an unhandled rejection. */
  #background (work: Promise<unknown>): void {
    work.catch((err: unknown) => {
      this.#logger.error({ err }, 'fastify-scheduler: shared-store work failed')
    })
  }

  #liveFences (): number[] {
    const fences: number[] = []
    for (const run of this.#active.toArray()) if (run.fence !== 0) fences.push(run.fence)
    return fences
  }

  /** Runs the store no longer counts as this instance's (its lease expired while this process was stopped): abort them, and send no end. */
  #lostRuns (fences: number[]): void {
    const lost = new Set(fences)
    for (const run of this.#active.toArray()) {
      if (!lost.has(run.fence)) continue
      run.fence = 0
      this.#logger.warn({ jobId: run.job.id, runId: run.runId }, 'fastify-scheduler: this run\'s lease expired and the fleet took it over; aborting it')
      run.abort('because its lease expired and the fleet took it over')
    }
  }

  /** Runs the sweep marked lost: a job with onLost 'rerun' gets its fire run once more. */
  #swept (runs: LostRun[]): void {
    const batch: PendingClaim[] = []
    for (const lost of runs) {
      const job = this.#jobs.get(lost.jobId)
      this.#logger.warn({ jobId: lost.jobId, runId: lost.runId, instanceId: lost.instanceId }, 'fastify-scheduler: a run was lost (its instance stopped renewing its lease)')
      if (job === undefined || job.options.onLost !== 'rerun' || lost.attempt !== 1 || this.#state !== 'running') continue
      batch.push(pendingClaim(job, 'rerun', lost.scheduledAt, new Run(job, lost.scheduledAt, this.#host), job.version))
    }
    if (batch.length > 0) this.#background(this.#sendClaims(batch))
  }

  #changed (job: JobRecord, change: 'paused' | 'resumed' | 'rescheduled' | 'replaced'): JobStatus {
    const status = this.#status(job)
    this.#events.emit('job:updated', { id: job.id, change, job: status })
    return status
  }

  #status (job: JobRecord): JobStatus {
    const stored = job.stored
    return {
      id: job.id,
      name: job.name,
      trigger: job.series.trigger.toJSON(),
      paused: job.paused,
      // With a store: the fleet's, as of the last read.
      running: stored === null ? job.running : stored.running,
      nextRunAt: Number.isNaN(job.fire) ? null : new Date(job.fire).toISOString(),
      lastRun: stored === null ? lastRunOf(job.lastRun, this.instanceId) : storedRunOf(stored.lastRun),
      stats: { ...(stored === null ? job.stats : stored.stats) }
    }
  }
}

/** What most outcomes lead to: no further claim (one shared array, not one per outcome of a wake). */
const NO_CLAIMS: readonly PendingClaim[] = []

/** A claim of `job` waiting to be sent, with what to do with its outcome; `run` is null for a 'missed' claim. */
function pendingClaim (job: JobRecord, kind: ClaimKind, scheduledAt: number, run: Run<JobRecord> | null, version: number, more: { missed?: number, firstMissed?: number, due?: number, rest?: number[] } = {}): PendingClaim {
  return {
    job,
    claim: { jobId: job.id, kind, scheduledAt, missed: more.missed ?? 0, maxInstances: job.options.maxInstances, runId: run?.runId ?? '', version },
    run,
    firstMissed: more.firstMissed ?? Number.NaN,
    due: more.due ?? Number.NaN,
    sent: null,
    chained: false,
    deferred: false,
    requeued: job.requeued,
    rest: more.rest ?? []
  }
}

function skipped (): RunResult {
  return { runId: null, status: 'skipped' }
}

function noop (): void {}

/** What runJob resolves with for a started run. `done` works after the end too: a sync handler has ended by now. */
async function resultOf (run: Run<JobRecord>): Promise<RunResult> {
  const record = await run.done
  return record.status === 'success'
    ? { runId: record.runId, status: record.status, result: record.result }
    : { runId: record.runId, status: record.status, error: record.error as RunError }
}

/** A shared store's view of a job's definition, for reconciliation. */
function declaration (job: JobRecord): DeclaredJob {
  return { id: job.id, hash: job.hash, definition: job.shared as SharedDefinition, paused: job.paused }
}

/** A stable hash of a shared definition: canonical JSON (sorted keys), SHA-256. The name is left out: renaming a job doesn't re-anchor it. */
function hashOf (shared: SharedDefinition): string {
  return createHash('sha256').update(canonicalJSON({ trigger: shared.trigger, zone: shared.zone, options: shared.options })).digest('hex').slice(0, 32)
}

/** JSON with object keys sorted (specs and options hold no arrays; one would hash as an object keyed by index, still stable). */
function canonicalJSON (value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    return `{${Object.keys(record).sort().filter((key) => record[key] !== undefined).map((key) => `${JSON.stringify(key)}:${canonicalJSON(record[key])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

function storedRunOf (run: StoredRun | null): LastRun | null {
  if (run === null) return null
  const iso = (ms: number | null): string | null => ms === null ? null : new Date(ms).toISOString()
  return {
    runId: run.runId,
    scheduledAt: iso(run.scheduledAt) as string,
    startedAt: iso(run.startedAt) as string,
    finishedAt: iso(run.finishedAt),
    durationMs: run.durationMs,
    status: run.status,
    error: run.error,
    instanceId: run.instanceId
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
  const { maxInstances, coalesce, misfireGraceTime, timeout, onLost } = source
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
  if (onLost !== undefined) {
    if (onLost !== 'mark' && onLost !== 'rerun') throw reject('onLost', onLost, "must be 'mark' or 'rerun'")
    out.onLost = onLost
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
