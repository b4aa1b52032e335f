/**
 * The contract between the scheduler and a shared store (DESIGN, "Shared
 * stores"). Fire times are computed in code, by every instance alike; the store
 * only decides who wins a fire, keeps what the fleet shares (paused, the stored
 * definition and its anchor, run counts, the latest run, live runs with their
 * leases) and tells instances that something changed.
 *
 * Every method is one round trip (one statement, one script) so that a wake
 * costs a claim or two (its share, its backups) whatever the number of due
 * fires. Times are epoch ms by the
 * STORE's clock: an instance never decides "due" or "expired" by its own.
 *
 * Implementations: lib/stores/memory.ts (the reference, and the way to run a
 * "fleet" of schedulers in one process in tests), lib/stores/postgres.ts,
 * lib/stores/redis.ts. One shared suite (test/stores/) runs against all of them.
 */
import type { JobOptions, JobStats, RunError } from '../job.js'

/** The part of a job's definition the fleet shares: when it fires and how. The handler and `data` stay in code. */
export interface SharedDefinition {
  name: string
  /** A trigger spec in JSON form (Dates as ISO strings). */
  trigger: Record<string, unknown>
  /** The zone the spec is read in (the scheduler's), so every instance reads it alike. */
  zone: string
  options: JobOptions
}

/** One job as an instance declares it at boot. */
export interface DeclaredJob {
  id: string
  /** Hash of `definition` (canonical JSON); equal hashes mean equal definitions. */
  hash: string
  definition: SharedDefinition
  /** Applied only when the job is new to the store: a stored `paused` is never reset. */
  paused: boolean
}

/** A finished (or lost) run as the store keeps it for `JobStatus.lastRun`. */
export interface StoredRun {
  runId: string
  scheduledAt: number
  startedAt: number
  /** null for a run marked lost (it never reported an end). */
  finishedAt: number | null
  durationMs: number | null
  status: 'success' | 'error' | 'timeout' | 'aborted' | 'lost'
  error: RunError | null
  instanceId: string
}

/** A job as the store holds it. */
export interface StoredJob {
  id: string
  hash: string
  definition: SharedDefinition
  paused: boolean
  /** Intervals are anchored here; fires before it are never due (set at creation, redefinition and resume). */
  anchorAt: number
  /** Bumped by every change (redefinition, pause, resume of a paused job, reschedule): instances compare it to re-read. */
  version: number
  /** The latest settled fire (run, skipped or missed); null before the first. Fires at or before it are never claimed again. */
  watermark: number | null
  stats: JobStats
  lastRun: StoredRun | null
  /** Runs live in the whole fleet (status running, lease not expired). */
  running: number
}

export type ClaimKind =
  /** A scheduled fire: claimed once across the fleet, only when due by the store's clock and after the watermark. */
  | 'fire'
  /** Fires too late to run (misfireGraceTime): nothing runs; the watermark advances to `scheduledAt` and `missed` (which counts every one of those fires, `scheduledAt`'s included) is added once. */
  | 'missed'
  /** `runJob`: outside the schedule; not checked against the watermark, the due time or `paused`, and leaves the watermark alone; maxInstances applies. */
  | 'manual'
  /** A second attempt of a lost run (onLost: 'rerun'): `scheduledAt` is the lost run's; at most one rerun per fire (a refusal for `paused` doesn't use it up); leaves the watermark alone. */
  | 'rerun'

export interface Claim {
  jobId: string
  kind: ClaimKind
  scheduledAt: number
  /** Fires before this one counted as missed when the claim is won (never twice across the fleet). */
  missed: number
  /** The job's limit on live runs in the whole fleet. */
  maxInstances: number
  /**
   * The job's `version` the claimer computed this fire from (its last read).
   * A 'fire' or 'missed' claim from another version is refused as 'stale':
   * an instance that hasn't yet heard of a resume or a redefinition would
   * otherwise claim a fire of the old schedule. Not checked for 'manual' and 'rerun'.
   */
  version: number
  /** The run's id, chosen by the claimer (unique per run). */
  runId: string
}

export type ClaimOutcome =
  /** Won: run it. `fence` identifies the run for renewals and its end. */
  | { status: 'run', fence: number }
  /** Won, but maxInstances runs are live in the fleet: recorded as skipped (counted once). */
  | { status: 'skipped' }
  /** Won a 'missed' claim: the missed count is recorded. */
  | { status: 'missed' }
  /** Another instance had it first (or it is at/before the watermark). */
  | { status: 'taken' }
  /** The job is paused in the store. */
  | { status: 'paused' }
  /** A 'fire' or 'missed' claim computed from another version of the job than the store's: re-read it. Nothing recorded. */
  | { status: 'stale' }
  /** Not due yet by the store's clock (`now` is the store's time): try again at the due time. */
  | { status: 'early', now: number }
  /** The store has no job with this id. */
  | { status: 'unknown' }
  /**
   * Nothing decided: another transaction holds the job right now (a claim of
   * the same fire from another instance, a run's end, a change). Only a store
   * whose claims never wait for one another answers it (PostgreSQL); claim
   * again shortly.
   */
  | { status: 'busy' }

/** A run's end, reported by the instance that ran it. */
export interface RunEnd {
  fence: number
  jobId: string
  status: 'success' | 'error' | 'timeout' | 'aborted'
  startedAt: number
  finishedAt: number
  durationMs: number
  error: RunError | null
}

/** A run the sweeper found with an expired lease: now `lost`. */
export interface LostRun {
  jobId: string
  runId: string
  fence: number
  scheduledAt: number
  instanceId: string
  /** 1 for the first run of a fire, 2 for its rerun. */
  attempt: number
}

export interface InstanceInfo {
  id: string
  /** When it last reached the store (store time). */
  heartbeatAt: number
  startedAt: number
}

export interface HeartbeatResult {
  /** The store's time when it handled the heartbeat (for the clock offset). */
  now: number
  /** Fences given that are no longer running under this instance (lost, taken): abort them. */
  lost: number[]
}

/** What `changeJob` can change; each change bumps the version and notifies the fleet. */
export type JobChangeRequest =
  | { paused: true }
  /** Resume: not paused, re-anchored at the store's now. */
  | { paused: false }
  /** A new definition (rescheduleJob): re-anchored at the store's now; `paused` kept. */
  | { definition: SharedDefinition, hash: string }

export interface Store {
  /** For messages: 'memory', 'postgres', 'redis'. */
  readonly kind: string
  /** Where it is, for messages, without credentials (e.g. "postgres://127.0.0.1:5432/test"). */
  readonly address: string
  /**
   * Reaches the store and creates what it needs (tables, scripts) idempotently,
   * safe when several instances do it at once. Rejects with a SchedulerError
   * FST_SCHEDULER_STORE_UNAVAILABLE naming the store and its address.
   */
  connect (): Promise<void>
  /** Releases what the store opened itself (a pool, a client it created); a client the user passed in is left open. */
  close (): Promise<void>
  /** The store's clock, epoch ms. */
  now (): Promise<number>
  /**
   * Boot reconciliation, race-free with other instances doing the same (one
   * atomic upsert per job): a new job is inserted (anchored now, `paused` from
   * the declaration); a known job whose hash differs is redefined and
   * re-anchored now unless that hash was stored before (an older definition:
   * the stored one wins, so old and new versions side by side can't flip-flop);
   * `paused` is never reset; jobs not declared here are left alone. Returns the
   * stored jobs for the declared ids.
   */
  reconcile (instanceId: string, jobs: readonly DeclaredJob[]): Promise<StoredJob[]>
  /** The stored jobs with these ids (unknown ids are left out). */
  readJobs (ids: readonly string[]): Promise<StoredJob[]>
  /**
   * The stored `version` of each job with these ids (unknown ids are left out):
   * the polling fallback compares them with what it last read and re-reads
   * only the jobs that changed, so an idle poll costs a few bytes per job.
   */
  versions (ids: readonly string[]): Promise<Record<string, number>>
  /** Pause, resume or redefine one job for the fleet; null when the store has no such job. */
  changeJob (id: string, change: JobChangeRequest): Promise<StoredJob | null>
  /**
   * Claims fires, all in one round trip; the outcomes are in the claims' order
   * (claims of one job are decided in that order). A 'run' outcome records a
   * live run owned by `instanceId` with a lease of `leaseMs` (store time). A
   * won 'fire' or 'missed' claim advances the watermark (also when the
   * outcome is 'skipped'); its `missed` count is recorded with it.
   * "Live" for maxInstances means a lease that hasn't expired; a run whose
   * lease expired but that no sweep has marked lost yet can still be renewed
   * by its owner's heartbeat or finished by it.
   */
  claim (instanceId: string, claims: readonly Claim[], leaseMs: number): Promise<ClaimOutcome[]>
  /**
   * Records runs' ends; each is accepted only if its run is still live under
   * `instanceId` with that fence (a zombie can't overwrite a result). Accepted
   * ends update the job's stats and lastRun. Returns acceptance per end, in order.
   */
  finish (instanceId: string, ends: readonly RunEnd[]): Promise<boolean[]>
  /** Marks the instance alive and renews the leases of its live runs (`fences`) by `leaseMs`. */
  heartbeat (instanceId: string, fences: readonly number[], leaseMs: number): Promise<HeartbeatResult>
  /** Marks live runs whose lease expired as `lost` (counted as failures, kept as lastRun) and returns them; each lost run is returned to one caller only. */
  sweep (): Promise<LostRun[]>
  /** Instances that reached the store within `withinMs` (store time). */
  instances (withinMs: number): Promise<InstanceInfo[]>
  /** Forgets an instance that shuts down cleanly. */
  leave (instanceId: string): Promise<void>
  /**
   * Calls `listener` with job ids when they change (a hint: re-read them). At
   * most once per change, possibly late or never (a broken connection): the
   * scheduler polls too. Resolves with a function that unsubscribes.
   */
  subscribe (listener: (jobIds: string[]) => void): Promise<() => Promise<void>>
}

/** Duck-typed check for the plugin's and the scheduler's option validation. */
export function isStore (value: unknown): value is Store {
  if (value === null || typeof value !== 'object') return false
  const record = value as Record<string, unknown>
  return STORE_METHODS.every((name) => typeof record[name] === 'function') && typeof record.kind === 'string'
}

export const STORE_METHODS = ['connect', 'close', 'now', 'reconcile', 'readJobs', 'versions', 'changeJob', 'claim', 'finish', 'heartbeat', 'sweep', 'instances', 'leave', 'subscribe'] as const
