/**
 * One scheduler's side of a shared store: the connection's lifecycle, the
 * clock offset to the store, batched run ends, heartbeats with the lease
 * sweep, change hints with a polling fallback, and what happens while the
 * store can't be reached (nothing is claimed, so nothing runs unclaimed; retry
 * with backoff; a resync on reconnect replays the missed fires through the
 * misfire rules). Which fires to claim and what to do with the outcomes stay
 * with the scheduler; this module only talks to the store.
 */
import type { Clock } from './clock.js'
import { ErrorCodes, SchedulerError, storeUnavailable } from './errors.js'
import type { Logger } from './job.js'
import { FleetShares } from './shares.js'
import type { Claim, ClaimOutcome, DeclaredJob, InstanceInfo, JobChangeRequest, LostRun, RunEnd, Store, StoredJob } from './stores/store.js'

export interface ClusterSettings {
  /** ms a run's lease lasts without renewal; heartbeats renew it every third of that. */
  leaseTime: number
  /** ms between re-reads of the stored jobs (the fallback for lost notifications). */
  pollInterval: number
}

export const DEFAULT_LEASE_TIME = 30_000
export const DEFAULT_POLL_INTERVAL = 5_000
/** An offset to the store's clock beyond this is logged as a warning. */
export const CLOCK_WARN_MS = 1_000
/** Retry delays while the store is unreachable: doubling from the first to the last. */
export const RETRY_FIRST_MS = 500
export const RETRY_MAX_MS = 30_000
/**
 * How long a run's end may wait to be sent with the ends that follow it: one
 * round trip for them all, and none in the burst of claims at the top of a
 * second, when every instance claims at once (recording ends costs the store
 * about as much as claiming). A claim of a job whose end is waiting sends the
 * ends first, so maxInstances never counts a run this instance saw end.
 */
export const END_BATCH_MS = 250
/** Run ends kept while the store is unreachable; older ones are dropped (their leases will expire anyway). */
export const MAX_PENDING_ENDS = 100_000
/**
 * How long after a fire's due time the instances that are not its preferred
 * claimer send their (backup) claims (lib/shares.ts): long enough for the
 * preferred instance's claim to be decided under load, so the backups find it
 * settled; it is also how late a fire runs when its preferred instance died
 * and the others haven't noticed yet.
 */
export const BACKUP_CLAIM_DELAY = 500
/**
 * Claims the store answered 'busy' (another call held their jobs) go again
 * after this long, doubling each time they are busy again, to the last: the
 * call holding them is another instance's claim of the same fire (or a
 * reconcile or a change of the job), done within tens of ms, longer only when
 * the store is overloaded. (Runs' ends hold no job: see lib/stores/postgres.ts.)
 */
export const BUSY_RETRY_FIRST_MS = 20
export const BUSY_RETRY_MAX_MS = 1_000

/** What the cluster asks of its scheduler. */
export interface ClusterHost {
  /** The fences of this instance's live runs, to renew. */
  liveFences: () => number[]
  /** The store says these runs are no longer this instance's (lost, taken over): abort them. */
  lost: (fences: number[]) => void
  /** Runs the sweep marked lost (any instance's), each reported to one instance only. */
  swept: (runs: LostRun[]) => void
  /** Stored jobs, re-read; `resync` after the store was unreachable (queue again from the watermark). */
  apply: (jobs: StoredJob[], resync: boolean) => void
  /** Ids of the jobs this instance runs. */
  jobIds: () => string[]
  /** Of these stored versions, the ids of the jobs this instance last read at another version. */
  changed: (versions: Record<string, number>) => string[]
  /** The fleet changed: which jobs this instance claims first may have too (`shares`). */
  sharesChanged: () => void
}

export class Cluster {
  readonly store: Store
  /** The local clock corrected to the store's: due checks agree with the store's. */
  readonly clock: Clock
  /** Which jobs this instance claims first, from the live instances as last read (refreshed with each heartbeat). */
  readonly shares: FleetShares
  readonly #instanceId: string
  readonly #base: Clock
  readonly #logger: Logger
  readonly #settings: ClusterSettings
  readonly #host: ClusterHost
  #offset = 0
  /** The round trip of the sample the offset came from: a slower sample says less (see #setOffset). */
  #offsetRtt = Number.POSITIVE_INFINITY
  #warnedOffset = false
  #reachable = true
  #retries = 0
  #closed = false
  #heartbeatTimer: unknown = undefined
  #pollTimer: unknown = undefined
  #retryTimer: unknown = undefined
  #unsubscribe: (() => Promise<void>) | null = null
  #ends: RunEnd[] = []
  /** The ends on their way to the store. */
  #sending: RunEnd[] = []
  #flushing: Promise<void> | null = null
  /** The timer that sends the queued ends (END_BATCH_MS after the first). */
  #endsTimer: unknown = undefined

  constructor (store: Store, instanceId: string, base: Clock, logger: Logger, settings: ClusterSettings, host: ClusterHost) {
    this.store = store
    this.#instanceId = instanceId
    this.#base = base
    this.#logger = logger
    this.#settings = settings
    this.#host = host
    this.shares = new FleetShares(instanceId)
    this.clock = {
      now: () => base.now() + this.#offset,
      setTimeout: (fn, ms) => base.setTimeout(fn, ms),
      clearTimeout: (handle) => base.clearTimeout(handle)
    }
  }

  get reachable (): boolean {
    return this.#reachable
  }

  /** ms to add to the local clock to read the store's. */
  get offset (): number {
    return this.#offset
  }

  /**
   * Connects, measures the clock offset, reconciles the declared jobs and
   * starts heartbeats, notifications and polling. Rejects with
   * FST_SCHEDULER_STORE_UNAVAILABLE naming the store when it can't.
   */
  async open (declared: DeclaredJob[]): Promise<StoredJob[]> {
    const store = this.store
    try {
      await store.connect()
      await this.#measure()
      const stored = await store.reconcile(this.#instanceId, declared)
      await store.heartbeat(this.#instanceId, [], this.#settings.leaseTime)
      this.#readShares(await store.instances(this.#settings.leaseTime))
      this.#unsubscribe = await store.subscribe((ids) => { this.#hint(ids) })
      this.#armHeartbeat()
      this.#armPoll()
      return stored
    } catch (err) {
      // Nothing may stay open (a client retrying forever would keep the process alive).
      await store.close().catch(() => {})
      throw asStoreError(store, 'startup', err)
    }
  }

  /** Declares jobs added after startup; null when the store can't be reached (the resync declares them later). */
  async declare (declared: DeclaredJob[]): Promise<StoredJob[] | null> {
    return await this.#call('declare', async () => await this.store.reconcile(this.#instanceId, declared))
  }

  /** One round trip for all the claims of a wake; null when the store can't be reached (then nothing may run). */
  async claim (claims: Claim[]): Promise<ClaimOutcome[] | null> {
    if (!this.#reachable) return null
    // A run of one of these jobs that ended here must not count against maxInstances: its end goes first.
    if (this.#endsPendingFor(claims)) await this.flush()
    return await this.#call('claim', async () => await this.store.claim(this.#instanceId, claims, this.#settings.leaseTime))
  }

  async change (id: string, change: JobChangeRequest): Promise<StoredJob | null> {
    return await this.#call('change', async () => await this.store.changeJob(id, change))
  }

  async readJobs (ids: string[]): Promise<StoredJob[] | null> {
    if (ids.length === 0) return []
    return await this.#call('read', async () => await this.store.readJobs(ids))
  }

  async instances (): Promise<InstanceInfo[] | null> {
    // An instance is listed while its heartbeat would still renew a lease.
    const instances = await this.#call('instances', async () => await this.store.instances(this.#settings.leaseTime))
    if (instances !== null) this.#readShares(instances)
    return instances
  }

  /** Queues a run's end; ends go to the store in batches (END_BATCH_MS), one round trip per batch; `atOnce`: this one's batch goes now. */
  ended (end: RunEnd, atOnce = false): void {
    if (this.#ends.length >= MAX_PENDING_ENDS) this.#ends.shift()
    this.#ends.push(end)
    if (atOnce) this.#background(this.flush())
    else this.#armEnds()
  }

  /** Sends the queued ends now (shutdown waits for this). */
  async flush (): Promise<void> {
    if (this.#flushing !== null) await this.#flushing
    // Another caller may have sent the queued ends meanwhile: then that batch is awaited.
    if (this.#flushing === null && this.#ends.length > 0 && this.#reachable) this.#flushing = this.#flush()
    if (this.#flushing !== null) await this.#flushing
  }

  /** Stops the timers, sends the last ends, leaves the fleet and closes the store. Never throws. */
  async close (): Promise<void> {
    this.#closed = true
    this.#clearTimers()
    await this.flush()
    const unsubscribe = this.#unsubscribe
    this.#unsubscribe = null
    for (const [action, step] of [
      ['unsubscribe', async () => { if (unsubscribe !== null) await unsubscribe() }],
      ['leave', async () => { if (this.#reachable) await this.store.leave(this.#instanceId) }],
      ['close', async () => await this.store.close()]
    ] as const) {
      try {
        await step()
      } catch (err) {
        this.#logger.warn({ err }, `fastify-scheduler: ${action} on the ${this.store.kind} store failed at shutdown`)
      }
    }
  }

  // ------------------------------------------------------------ internal

  /** Sends the queued ends END_BATCH_MS from now, unless a batch is already on its way or due. */
  #armEnds (): void {
    if (this.#endsTimer !== undefined || this.#flushing !== null || !this.#reachable || this.#closed) return
    this.#endsTimer = this.#base.setTimeout(() => {
      this.#endsTimer = undefined
      this.#background(this.flush())
    }, END_BATCH_MS)
  }

  /** Whether an end of one of these claims' jobs is queued or on its way. */
  #endsPendingFor (claims: Claim[]): boolean {
    if (this.#ends.length === 0 && this.#sending.length === 0) return false
    const jobs = new Set<string>()
    for (const end of this.#ends) jobs.add(end.jobId)
    for (const end of this.#sending) jobs.add(end.jobId)
    return claims.some((claim) => jobs.has(claim.jobId))
  }

  async #flush (): Promise<void> {
    if (this.#endsTimer !== undefined) this.#base.clearTimeout(this.#endsTimer)
    this.#endsTimer = undefined
    const ends = this.#ends
    this.#ends = []
    this.#sending = ends
    try {
      const accepted = await this.#call('finish', async () => await this.store.finish(this.#instanceId, ends))
      if (accepted === null) {
        // Unreachable: keep them for the reconnect (the newest first if something must give).
        this.#ends = ends.concat(this.#ends).slice(-MAX_PENDING_ENDS)
        return
      }
      accepted.forEach((ok, i) => {
        if (!ok) {
          const end = ends[i]
          this.#logger.warn({ jobId: end.jobId, fence: end.fence, status: end.status }, 'fastify-scheduler: a run ended after the fleet took it over (its lease expired); its result is discarded')
        }
      })
    } finally {
      this.#flushing = null
      this.#sending = []
      // Ends that came while this batch was on its way form the next one.
      if (this.#ends.length > 0) this.#armEnds()
    }
  }

  /** Runs one store call; a failure marks the store unreachable (retrying with backoff) and yields null. */
  async #call<T> (action: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn()
    } catch (err) {
      this.#unreachable(action, err)
      return null
    }
  }

  /** Three samples: the first may include opening a connection, the quickest says the most. */
  async #measure (): Promise<void> {
    this.#offsetRtt = Number.POSITIVE_INFINITY
    for (let i = 0; i < 3; i++) {
      const before = this.#base.now()
      const storeNow = await this.store.now()
      this.#setOffset(storeNow, before, this.#base.now())
    }
  }

  /**
   * The store read its clock somewhere within [before, after] of ours: the
   * midpoint is off by at most half the round trip. A sample much slower than
   * the one the offset came from is ignored (a busy pool, a new connection);
   * the bar rises a little with each ignored sample, so a network that got
   * slower for good is followed after a while.
   */
  #setOffset (storeNow: number, before: number, after: number): void {
    const rtt = after - before
    if (rtt > 2 * this.#offsetRtt + 10) {
      this.#offsetRtt += 5
      return
    }
    this.#offsetRtt = rtt
    this.#offset = Math.round(storeNow - (before + after) / 2)
    const off = Math.abs(this.#offset) > CLOCK_WARN_MS
    if (off && !this.#warnedOffset) {
      this.#logger.warn({ offsetMs: this.#offset, store: this.store.kind }, 'fastify-scheduler: this machine\'s clock is more than a second off the store\'s; the store\'s clock decides when fires are due (fix NTP on this machine)')
    }
    this.#warnedOffset = off
  }

  /**
   * The store said its time is `storeNow` (a claim came too early: this clock
   * stepped ahead). Taken as the store's time now, which errs on the late
   * side; the next heartbeat's sample refines it.
   */
  correctClock (storeNow: number): void {
    this.#offset = storeNow - this.#base.now()
    this.#offsetRtt = Number.POSITIVE_INFINITY
  }

  #readShares (instances: InstanceInfo[]): void {
    const epoch = this.shares.epoch
    this.shares.update(instances.map((instance) => instance.id))
    if (this.shares.epoch !== epoch) this.#host.sharesChanged()
  }

  #unreachable (action: string, err: unknown): void {
    if (!this.#reachable || this.#closed) return
    this.#reachable = false
    this.#retries = 0
    this.#clearTimers()
    this.#logger.error({ err, store: this.store.kind, address: this.store.address, action }, 'fastify-scheduler: the store is unreachable; no fire runs until it is back (retrying)')
    this.#armRetry()
  }

  #armRetry (): void {
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.#retries)
    this.#retries++
    this.#retryTimer = this.#base.setTimeout(() => { this.#background(this.#retry()) }, delay)
  }

  async #retry (): Promise<void> {
    this.#retryTimer = undefined
    try {
      await this.#measure()
      const stored = await this.store.readJobs(this.#host.jobIds())
      if (this.#closed) return
      this.#reachable = true
      this.#logger.info({ store: this.store.kind, retries: this.#retries }, 'fastify-scheduler: the store is reachable again; catching up')
      this.#host.apply(stored, true)
      this.#armHeartbeat()
      this.#armPoll()
      if (this.#ends.length > 0) await this.flush()
    } catch (err) {
      if (this.#closed) return
      this.#logger.debug({ err }, 'fastify-scheduler: the store is still unreachable')
      this.#armRetry()
    }
  }

  #hint (ids: string[]): void {
    if (!this.#reachable || this.#closed) return
    const known = new Set(this.#host.jobIds())
    const mine = ids.filter((id) => known.has(id))
    if (mine.length === 0) return
    this.#background(this.readJobs(mine).then((jobs) => {
      if (jobs !== null && !this.#closed) this.#host.apply(jobs, false)
    }))
  }

  #armHeartbeat (): void {
    // One loop only: a step that ends after a reconnect already re-armed it must not arm a second.
    if (this.#closed || this.#heartbeatTimer !== undefined) return
    this.#heartbeatTimer = this.#base.setTimeout(() => { this.#background(this.#heartbeat()) }, Math.max(1, Math.floor(this.#settings.leaseTime / 3)))
  }

  async #heartbeat (): Promise<void> {
    this.#heartbeatTimer = undefined
    try {
      const before = this.#base.now()
      const beat = await this.#call('heartbeat', async () => await this.store.heartbeat(this.#instanceId, this.#host.liveFences(), this.#settings.leaseTime))
      if (beat === null || this.#closed) return
      this.#setOffset(beat.now, before, this.#base.now())
      if (beat.lost.length > 0) this.#host.lost(beat.lost)
      // Only an instance that reaches the store sweeps: one that can't never declares the others dead.
      const lost = await this.#call('sweep', async () => await this.store.sweep())
      if (lost === null || this.#closed) return
      if (lost.length > 0) this.#host.swept(lost)
      // Who is alive, for the shares: an instance that stopped is dropped once its heartbeat is a lease old.
      await this.instances()
    } finally {
      // Whatever a step threw, the loop goes on (DESIGN rule 6); while unreachable, the retry loop runs instead.
      if (this.#reachable) this.#armHeartbeat()
    }
  }

  #armPoll (): void {
    if (this.#closed || this.#pollTimer !== undefined) return
    this.#pollTimer = this.#base.setTimeout(() => { this.#background(this.#poll()) }, this.#settings.pollInterval)
  }

  /** The fallback for lost notifications: the jobs' versions, then the jobs that changed, if any. */
  async #poll (): Promise<void> {
    this.#pollTimer = undefined
    try {
      const versions = await this.#call('poll', async () => await this.store.versions(this.#host.jobIds()))
      if (versions === null || this.#closed) return
      const jobs = await this.readJobs(this.#host.changed(versions))
      if (jobs !== null && !this.#closed) this.#host.apply(jobs, false)
    } finally {
      if (this.#reachable) this.#armPoll()
    }
  }

  /** A loop step nobody awaits: a bug in it is logged, never an unhandled rejection. */
  #background (step: Promise<void>): void {
    step.catch((err: unknown) => {
      this.#logger.error({ err }, 'fastify-scheduler: internal error in the shared-store loop')
    })
  }

  #clearTimers (): void {
    for (const timer of [this.#heartbeatTimer, this.#pollTimer, this.#retryTimer, this.#endsTimer]) {
      if (timer !== undefined) this.#base.clearTimeout(timer)
    }
    this.#heartbeatTimer = this.#pollTimer = this.#retryTimer = this.#endsTimer = undefined
  }
}

/** A store failure as the coded error the plugin's `ready()` rejects with. */
function asStoreError (store: Store, action: string, err: unknown): SchedulerError {
  if (err instanceof SchedulerError && err.code === ErrorCodes.STORE_UNAVAILABLE) return err
  return storeUnavailable(store.kind, store.address, action, err)
}
