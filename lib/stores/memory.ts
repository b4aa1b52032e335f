/**
 * The in-memory store: the reference implementation of the Store contract (the
 * shared suite checks the PostgreSQL and Redis stores against the same tests)
 * and a way to run several schedulers as one fleet inside one process, with an
 * injected clock, in tests. It shares nothing across processes.
 */
import type { JobStats } from '../job.js'
import type {
  Claim,
  ClaimOutcome,
  DeclaredJob,
  HeartbeatResult,
  InstanceInfo,
  JobChangeRequest,
  LostRun,
  RunEnd,
  SharedDefinition,
  Store,
  StoredJob,
  StoredRun
} from './store.js'

/** How many past definition hashes a job remembers (an older definition never comes back). */
export const HASH_HISTORY = 16

export interface MemoryStoreOptions {
  /** The store's clock; default Date.now. */
  clock?: { now: () => number }
}

interface JobRow {
  id: string
  hash: string
  history: string[]
  definition: SharedDefinition
  paused: boolean
  anchorAt: number
  version: number
  watermark: number | null
  stats: JobStats
  lastRun: StoredRun | null
}

interface RunRow {
  fence: number
  jobId: string
  runId: string
  scheduledAt: number
  attempt: number
  instanceId: string
  startedAt: number
  leaseUntil: number
}

export function memoryStore (options: MemoryStoreOptions = {}): Store {
  return new MemoryStore(options)
}

export class MemoryStore implements Store {
  readonly kind = 'memory'
  readonly address = 'memory'
  readonly #now: () => number
  readonly #jobs = new Map<string, JobRow>()
  /** Live runs by fence; ended runs leave (the job keeps its lastRun). */
  readonly #live = new Map<number, RunRow>()
  /** The same runs by job, for maxInstances checks without a scan of every live run. */
  readonly #liveByJob = new Map<string, Set<RunRow>>()
  /** Fires `${jobId}\n${scheduledAt}` that were lost and have had their one rerun. */
  readonly #rerun = new Set<string>()
  readonly #instances = new Map<string, InstanceInfo>()
  readonly #listeners = new Set<(ids: string[]) => void>()
  #fence = 0

  constructor (options: MemoryStoreOptions = {}) {
    const clock = options.clock
    this.#now = clock === undefined ? Date.now : () => clock.now()
  }

  async connect (): Promise<void> {}

  async close (): Promise<void> {}

  async now (): Promise<number> {
    return this.#now()
  }

  async reconcile (instanceId: string, jobs: readonly DeclaredJob[]): Promise<StoredJob[]> {
    const now = this.#now()
    this.#touch(instanceId, now)
    const out: StoredJob[] = []
    for (const declared of jobs) {
      let row = this.#jobs.get(declared.id)
      if (row === undefined) {
        row = {
          id: declared.id,
          hash: declared.hash,
          history: [declared.hash],
          definition: structuredClone(declared.definition),
          paused: declared.paused,
          anchorAt: now,
          version: 1,
          watermark: null,
          stats: { runs: 0, successes: 0, failures: 0, missed: 0, skipped: 0 },
          lastRun: null
        }
        this.#jobs.set(row.id, row)
      } else if (row.hash !== declared.hash && !row.history.includes(declared.hash)) {
        this.#redefine(row, declared.definition, declared.hash, now)
      }
      out.push(this.#view(row, now))
    }
    return out
  }

  async readJobs (ids: readonly string[]): Promise<StoredJob[]> {
    const now = this.#now()
    const out: StoredJob[] = []
    for (const id of ids) {
      const row = this.#jobs.get(id)
      if (row !== undefined) out.push(this.#view(row, now))
    }
    return out
  }

  async versions (ids: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const id of ids) {
      const row = this.#jobs.get(id)
      if (row !== undefined) out[id] = row.version
    }
    return out
  }

  async changeJob (id: string, change: JobChangeRequest): Promise<StoredJob | null> {
    const row = this.#jobs.get(id)
    if (row === undefined) return null
    const now = this.#now()
    if ('definition' in change) {
      this.#redefine(row, change.definition, change.hash, now)
    } else {
      if (!change.paused && row.paused) row.anchorAt = now
      row.paused = change.paused
      row.version++
    }
    this.#notify([id])
    return this.#view(row, now)
  }

  async claim (instanceId: string, claims: readonly Claim[], leaseMs: number): Promise<ClaimOutcome[]> {
    const now = this.#now()
    this.#touch(instanceId, now)
    return claims.map((claim) => this.#claimOne(instanceId, claim, leaseMs, now))
  }

  #claimOne (instanceId: string, claim: Claim, leaseMs: number, now: number): ClaimOutcome {
    const row = this.#jobs.get(claim.jobId)
    if (row === undefined) return { status: 'unknown' }
    if (claim.kind === 'fire' || claim.kind === 'missed') {
      if (claim.scheduledAt > now) return { status: 'early', now }
      if (row.watermark !== null && claim.scheduledAt <= row.watermark) return { status: 'taken' }
      if (row.paused) return { status: 'paused' }
      if (claim.version !== row.version) return { status: 'stale' }
      row.watermark = claim.scheduledAt
      row.stats.missed += claim.missed
      if (claim.kind === 'missed') return { status: 'missed' }
    } else if (claim.kind === 'rerun') {
      const key = `${claim.jobId}\n${claim.scheduledAt}`
      if (this.#rerun.has(key)) return { status: 'taken' }
      if (row.paused) return { status: 'paused' }
      this.#rerun.add(key)
    }
    if (this.#running(claim.jobId, now) >= claim.maxInstances) {
      row.stats.skipped++
      return { status: 'skipped' }
    }
    const fence = ++this.#fence
    this.#addLive({
      fence,
      jobId: claim.jobId,
      runId: claim.runId,
      scheduledAt: claim.scheduledAt,
      attempt: claim.kind === 'rerun' ? 2 : 1,
      instanceId,
      startedAt: now,
      leaseUntil: now + leaseMs
    })
    row.stats.runs++
    return { status: 'run', fence }
  }

  #addLive (run: RunRow): void {
    this.#live.set(run.fence, run)
    const runs = this.#liveByJob.get(run.jobId)
    if (runs === undefined) this.#liveByJob.set(run.jobId, new Set([run]))
    else runs.add(run)
  }

  #removeLive (run: RunRow): void {
    this.#live.delete(run.fence)
    const runs = this.#liveByJob.get(run.jobId) as Set<RunRow>
    runs.delete(run)
    if (runs.size === 0) this.#liveByJob.delete(run.jobId)
  }

  async finish (instanceId: string, ends: readonly RunEnd[]): Promise<boolean[]> {
    return ends.map((end) => {
      const run = this.#live.get(end.fence)
      if (run === undefined || run.instanceId !== instanceId) return false
      this.#removeLive(run)
      const row = this.#jobs.get(run.jobId)
      if (row !== undefined) {
        if (end.status === 'success') row.stats.successes++
        else row.stats.failures++
        row.lastRun = {
          runId: run.runId,
          scheduledAt: run.scheduledAt,
          startedAt: end.startedAt,
          finishedAt: end.finishedAt,
          durationMs: end.durationMs,
          status: end.status,
          error: end.error,
          instanceId
        }
      }
      return true
    })
  }

  async heartbeat (instanceId: string, fences: readonly number[], leaseMs: number): Promise<HeartbeatResult> {
    const now = this.#now()
    this.#touch(instanceId, now)
    const lost: number[] = []
    for (const fence of fences) {
      const run = this.#live.get(fence)
      if (run === undefined || run.instanceId !== instanceId) lost.push(fence)
      else run.leaseUntil = now + leaseMs
    }
    return { now, lost }
  }

  async sweep (): Promise<LostRun[]> {
    const now = this.#now()
    const lost: LostRun[] = []
    for (const run of this.#live.values()) {
      if (run.leaseUntil > now) continue
      this.#removeLive(run)
      const row = this.#jobs.get(run.jobId)
      if (row !== undefined) {
        row.stats.failures++
        row.lastRun = {
          runId: run.runId,
          scheduledAt: run.scheduledAt,
          startedAt: run.startedAt,
          finishedAt: null,
          durationMs: null,
          status: 'lost',
          error: { name: 'LostRunError', message: `instance ${run.instanceId} stopped renewing the run's lease` },
          instanceId: run.instanceId
        }
      }
      lost.push({ jobId: run.jobId, runId: run.runId, fence: run.fence, scheduledAt: run.scheduledAt, instanceId: run.instanceId, attempt: run.attempt })
    }
    return lost
  }

  async instances (withinMs: number): Promise<InstanceInfo[]> {
    const now = this.#now()
    return [...this.#instances.values()]
      .filter((instance) => instance.heartbeatAt >= now - withinMs)
      .map((instance) => ({ ...instance }))
  }

  async leave (instanceId: string): Promise<void> {
    this.#instances.delete(instanceId)
  }

  async subscribe (listener: (jobIds: string[]) => void): Promise<() => Promise<void>> {
    this.#listeners.add(listener)
    return async () => {
      this.#listeners.delete(listener)
    }
  }

  #redefine (row: JobRow, definition: SharedDefinition, hash: string, now: number): void {
    row.definition = structuredClone(definition)
    row.hash = hash
    row.history = [hash, ...row.history.filter((h) => h !== hash)].slice(0, HASH_HISTORY)
    row.anchorAt = now
    row.version++
  }

  #running (jobId: string, now: number): number {
    let count = 0
    for (const run of this.#liveByJob.get(jobId) ?? []) {
      if (run.leaseUntil > now) count++
    }
    return count
  }

  #touch (instanceId: string, now: number): void {
    const instance = this.#instances.get(instanceId)
    if (instance === undefined) this.#instances.set(instanceId, { id: instanceId, heartbeatAt: now, startedAt: now })
    else instance.heartbeatAt = now
  }

  #notify (ids: string[]): void {
    // Delivered later, like a real store's notification: never inside the changer's call.
    for (const listener of this.#listeners) queueMicrotask(() => listener(ids))
  }

  #view (row: JobRow, now: number): StoredJob {
    return {
      id: row.id,
      hash: row.hash,
      definition: structuredClone(row.definition),
      paused: row.paused,
      anchorAt: row.anchorAt,
      version: row.version,
      watermark: row.watermark,
      stats: { ...row.stats },
      lastRun: row.lastRun === null ? null : { ...row.lastRun },
      running: this.#running(row.id, now)
    }
  }
}
