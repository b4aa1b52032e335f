/**
 * Test helpers for schedulers on a shared store (test/scheduler-shared*.test.ts).
 *
 * FlakyStore forwards every call to another Store (the MemoryStore the fleet
 * shares) and can be told, method by method, to fail (an unreachable store),
 * to hang until released (a slow round trip, a process stopped mid-call), or
 * to drop notifications (a broken LISTEN connection), or to answer claims of a
 * job 'busy' (PostgreSQL's answer while another call holds it). Each instance of a fleet
 * gets a wrapper of its own around the same store, so one instance can lose the
 * store while the others keep it. Every call is recorded with the store's time.
 *
 * This file is a helper, not a test: its code counts towards coverage, so it
 * stays branch-free except where the tests take both ways.
 */
import type { Clock } from '../../lib/clock.js'
import type { JobContext, SchedulerEventName, SchedulerEvents } from '../../lib/job.js'
import { Scheduler, type SchedulerCoreOptions } from '../../lib/scheduler.js'
import { FleetShares } from '../../lib/shares.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import type { Claim, ClaimOutcome, DeclaredJob, JobChangeRequest, RunEnd, Store, STORE_METHODS } from '../../lib/stores/store.js'
import { flush, ManualClock } from './fake-clock.js'
import { recordingLogger, type LogLine } from './logger.js'
import { EVENT_NAMES, type Recorded } from './scheduler.js'

export type StoreMethod = typeof STORE_METHODS[number] | 'unsubscribe'

export interface StoreCall {
  method: StoreMethod
  /** The store's time of the call. */
  at: number
}

export class FlakyStore implements Store {
  readonly kind: string
  readonly address: string
  /** Where calls go; replace it to play a store that lost its data. */
  target: Store
  readonly calls: StoreCall[] = []
  /** Notifications are dropped: subscribe works, the listener is never called. */
  deaf = false
  readonly #clock: { now: () => number }
  /** Failing methods; '*' for all. */
  readonly #failing = new Set<string>()
  readonly #hanging = new Set<string>()
  readonly #held: Array<() => void> = []
  /** Job id → how many more of its claims are answered 'busy'. */
  readonly #busy = new Map<string, number>()

  constructor (target: Store, clock: { now: () => number }, where: { kind: string, address: string } = target) {
    this.target = target
    this.#clock = clock
    this.kind = where.kind
    this.address = where.address
  }

  /** The methods (all when none is named) reject from now on, with "connection refused". */
  fail (...methods: StoreMethod[]): void {
    for (const method of methods.length === 0 ? ['*'] : methods) this.#failing.add(method)
  }

  /** Calls of these methods wait for `release()` (then go on, or fail if their method fails by then). */
  hang (...methods: StoreMethod[]): void {
    for (const method of methods) this.#hanging.add(method)
  }

  /** The next `times` claims of `jobId` are answered 'busy' without reaching the store; the other claims of their calls go on. */
  busy (jobId: string, times: number): void {
    this.#busy.set(jobId, times)
  }

  /** Calls go through again (held ones stay held until released). */
  heal (): void {
    this.#failing.clear()
    this.#hanging.clear()
  }

  /** Lets the held calls go on, in the order they were made. */
  release (): void {
    for (const resolve of this.#held.splice(0)) resolve()
  }

  /** Calls held right now. */
  get held (): number {
    return this.#held.length
  }

  /** The times of the calls of one method. */
  times (method: StoreMethod): number[] {
    return this.calls.filter((call) => call.method === method).map((call) => call.at)
  }

  count (method: StoreMethod): number {
    return this.times(method).length
  }

  async connect (): Promise<void> {
    await this.#call('connect', async () => await this.target.connect())
  }

  async close (): Promise<void> {
    await this.#call('close', async () => await this.target.close())
  }

  async now (): Promise<number> {
    return await this.#call('now', async () => await this.target.now())
  }

  async reconcile (instanceId: string, jobs: readonly DeclaredJob[]): ReturnType<Store['reconcile']> {
    return await this.#call('reconcile', async () => await this.target.reconcile(instanceId, jobs))
  }

  async readJobs (ids: readonly string[]): ReturnType<Store['readJobs']> {
    return await this.#call('readJobs', async () => await this.target.readJobs(ids))
  }

  async versions (ids: readonly string[]): ReturnType<Store['versions']> {
    return await this.#call('versions', async () => await this.target.versions(ids))
  }

  async changeJob (id: string, change: JobChangeRequest): ReturnType<Store['changeJob']> {
    return await this.#call('changeJob', async () => await this.target.changeJob(id, change))
  }

  async claim (instanceId: string, claims: readonly Claim[], leaseMs: number): ReturnType<Store['claim']> {
    return await this.#call('claim', async () => {
      const busy = claims.map((claim) => this.#takeBusy(claim.jobId))
      // The store's answer as it is (a test may make it malformed) unless some claim is answered here.
      if (!busy.includes(true)) return await this.target.claim(instanceId, claims, leaseMs)
      const outcomes = await this.target.claim(instanceId, claims.filter((_, i) => !busy[i]), leaseMs)
      return busy.map((answer) => answer ? { status: 'busy' as const } : outcomes.shift() as ClaimOutcome)
    })
  }

  #takeBusy (jobId: string): boolean {
    const left = this.#busy.get(jobId) ?? 0
    this.#busy.set(jobId, left - 1)
    return left > 0
  }

  async finish (instanceId: string, ends: readonly RunEnd[]): ReturnType<Store['finish']> {
    return await this.#call('finish', async () => await this.target.finish(instanceId, ends))
  }

  async heartbeat (instanceId: string, fences: readonly number[], leaseMs: number): ReturnType<Store['heartbeat']> {
    return await this.#call('heartbeat', async () => await this.target.heartbeat(instanceId, fences, leaseMs))
  }

  async sweep (): ReturnType<Store['sweep']> {
    return await this.#call('sweep', async () => await this.target.sweep())
  }

  async instances (withinMs: number): ReturnType<Store['instances']> {
    return await this.#call('instances', async () => await this.target.instances(withinMs))
  }

  async leave (instanceId: string): Promise<void> {
    await this.#call('leave', async () => await this.target.leave(instanceId))
  }

  async subscribe (listener: (jobIds: string[]) => void): Promise<() => Promise<void>> {
    return await this.#call('subscribe', async () => {
      const unsubscribe = await this.target.subscribe((ids) => { if (!this.deaf) listener(ids) })
      return async () => { await this.#call('unsubscribe', unsubscribe) }
    })
  }

  async #call<T> (method: StoreMethod, forward: () => Promise<T>): Promise<T> {
    this.calls.push({ method, at: this.#clock.now() })
    if (this.#hanging.has(method)) await new Promise<void>((resolve) => { this.#held.push(resolve) })
    if (this.#failing.has(method) || this.#failing.has('*')) throw new Error(`${this.kind} ${method}: connection refused`)
    return await forward()
  }
}

/** One scheduler of a fleet, with its own store wrapper, logs and events. */
export interface Member {
  scheduler: Scheduler
  store: FlakyStore
  logs: LogLine[]
  events: Recorded[]
  /** The payloads of one event, in order. */
  of: <E extends SchedulerEventName>(event: E) => Array<SchedulerEvents[E]>
}

/**
 * Schedulers sharing one MemoryStore and one ManualClock (the store's), each
 * through its own FlakyStore. `join` makes one (not started); `clock` in its
 * options gives it a clock of its own (skewed, stallable) instead.
 */
export class Fleet {
  readonly clock: ManualClock
  readonly store: MemoryStore
  readonly members: Member[] = []

  constructor (start: string) {
    this.clock = new ManualClock(start)
    this.store = new MemoryStore({ clock: this.clock })
  }

  join (options: SchedulerCoreOptions): Member {
    const logger = recordingLogger()
    const store = new FlakyStore(this.store, this.clock)
    const scheduler = new Scheduler({ timezone: 'UTC', logger, store, clock: this.clock as Clock, instanceId: `i${this.members.length + 1}`, ...options })
    const events: Recorded[] = []
    for (const event of EVENT_NAMES) {
      scheduler.on(event, ((payload: unknown) => { events.push({ event, payload } as unknown as Recorded) }) as never)
    }
    const of = <E extends SchedulerEventName>(event: E): Array<SchedulerEvents[E]> =>
      events.filter((entry) => entry.event === event).map((entry) => entry.payload as SchedulerEvents[E])
    const member = { scheduler, store, logs: logger.lines, events, of }
    this.members.push(member)
    return member
  }

  /** Shuts every member down. */
  async shutdown (): Promise<void> {
    await Promise.all(this.members.map(async (member) => { await member.scheduler.shutdown() }))
  }
}

/**
 * The fleet's clock as one process sees it, which can be stopped (SIGSTOP, a
 * long GC pause, a frozen VM): while stalled none of its timers fire; those that
 * fell due fire when it resumes, late, in the order they were due.
 */
export class StallableClock implements Clock {
  readonly #base: ManualClock
  #stalled = false
  #held: Array<{ fn: () => void, cancelled: boolean }> = []

  constructor (base: ManualClock) {
    this.#base = base
  }

  now (): number {
    return this.#base.now()
  }

  setTimeout (fn: () => void, ms: number): unknown {
    const timer = { fn, cancelled: false, handle: undefined as unknown }
    timer.handle = this.#base.setTimeout(() => {
      if (this.#stalled) this.#held.push(timer)
      else fn()
    }, ms)
    return timer
  }

  clearTimeout (handle: unknown): void {
    const timer = handle as { cancelled: boolean, handle: unknown }
    timer.cancelled = true
    this.#base.clearTimeout(timer.handle)
  }

  stall (): void {
    this.#stalled = true
  }

  async resume (): Promise<void> {
    this.#stalled = false
    for (const timer of this.#held.splice(0)) {
      if (!timer.cancelled) timer.fn()
      await flush()
    }
  }
}

/** The fleet's clock read `skew.ms` ahead (a machine whose clock is off; change `ms` to step it); timers run at the same pace. */
export function skewedClock (base: ManualClock, skew: { ms: number }): Clock {
  return {
    now: () => base.now() + skew.ms,
    setTimeout: (fn, ms) => base.setTimeout(fn, ms),
    clearTimeout: (handle) => { base.clearTimeout(handle) }
  }
}

export interface OpenRun {
  /** The instance the handler was made for. */
  instanceId: string
  /** ms after `origin`. */
  scheduledAt: number
  runId: string
  signal: AbortSignal
}

/** Handlers whose runs stay open until the test settles them; each run is recorded. */
export function openRuns (origin: number): { handler: (instanceId: string) => (ctx: JobContext) => Promise<string>, settle: () => void, runs: OpenRun[] } {
  const pending: Array<() => void> = []
  const runs: OpenRun[] = []
  return {
    handler: (instanceId) => async (ctx) => {
      runs.push({ instanceId, scheduledAt: ctx.scheduledAt.getTime() - origin, runId: ctx.runId, signal: ctx.signal })
      await new Promise<void>((resolve) => { pending.push(resolve) })
      return 'done'
    },
    settle: () => { for (const resolve of pending.splice(0)) resolve() },
    runs
  }
}

/** How many lines of `level` a member logged whose message matches. */
export function logged (member: { logs: LogLine[] }, level: string, pattern: RegExp): number {
  return member.logs.filter((line) => line.level === level && pattern.test(line.msg ?? '')).length
}

/** The instance of the fleet `ids` whose share (lib/shares.ts) the job `jobId` is. */
export function shareOwner (jobId: string, ids: readonly string[]): string | undefined {
  return ids.find((id) => {
    const shares = new FleetShares(id)
    shares.update(ids)
    return shares.isMine(jobId)
  })
}

/**
 * A job id whose share is `instanceId`'s in the fleet `ids` (`prefix`, else
 * `prefix-1`, `prefix-2`, …): for tests where which instance runs a job's fires
 * is part of the set-up, not what is tested.
 */
export function jobOf (instanceId: string, ids: readonly string[], prefix = 'job'): string {
  const candidates = Array.from({ length: 64 }, (_, i) => i === 0 ? prefix : `${prefix}-${i}`)
  return candidates.find((id) => shareOwner(id, ids) === instanceId) as string
}
