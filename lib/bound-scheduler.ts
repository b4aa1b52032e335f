/**
 * `app.scheduler`: one Scheduler seen from one owner (a Fastify instance).
 *
 * The plugin creates a single Scheduler per registration, but Fastify plugins
 * are encapsulated: a job added from a child plugin must get that child's
 * instance as `this` and `ctx.fastify`, not the root's. So each instance that
 * reads `app.scheduler` gets its own view, which adds jobs with itself as their
 * owner and delegates everything else to the shared Scheduler. Views hold no
 * state of their own, so two views of one scheduler always agree.
 */
import type { JobDefinition, JobStatus, RunResult, SchedulerEventName, SchedulerListener, SchedulerState } from './job.js'
import type { InstanceStatus, RunHandle, Scheduler } from './scheduler.js'
import type { Trigger, TriggerSpec } from './triggers/trigger.js'

export class BoundScheduler<TOwner = unknown> {
  readonly #scheduler: Scheduler<TOwner>
  readonly #owner: TOwner

  constructor (scheduler: Scheduler<TOwner>, owner: TOwner) {
    this.#scheduler = scheduler
    this.#owner = owner
  }

  /** `'stopped' | 'running' | 'paused'`, of the whole scheduler. */
  get state (): SchedulerState {
    return this.#scheduler.state
  }

  /** Recorded in `lastRun.instanceId`. */
  get instanceId (): string {
    return this.#scheduler.instanceId
  }

  /** Validates and adds a job whose `this` and `ctx.fastify` are this view's instance. */
  addJob<TData = unknown> (definition: JobDefinition<TData, TOwner>): JobStatus {
    return this.#scheduler.withOwner(this.#owner, () => this.#scheduler.addJob(definition))
  }

  /** Adds an object's decorated methods; their `ctx.fastify` is this view's instance, `this` the object. */
  addJobsFrom (object: object): JobStatus[] {
    return this.#scheduler.withOwner(this.#owner, () => this.#scheduler.addJobsFrom(object))
  }

  removeJob (id: string): boolean {
    return this.#scheduler.removeJob(id)
  }

  pauseJob (id: string): JobStatus {
    return this.#scheduler.pauseJob(id)
  }

  resumeJob (id: string): JobStatus {
    return this.#scheduler.resumeJob(id)
  }

  rescheduleJob (id: string, trigger: TriggerSpec | Trigger): JobStatus {
    return this.#scheduler.rescheduleJob(id, trigger)
  }

  async runJob (id: string): Promise<RunResult> {
    return await this.#scheduler.runJob(id)
  }

  startRun (id: string): RunHandle {
    return this.#scheduler.startRun(id)
  }

  getJob (id: string): JobStatus | undefined {
    return this.#scheduler.getJob(id)
  }

  getJobs (): JobStatus[] {
    return this.#scheduler.getJobs()
  }

  /** With a shared store: connects and reconciles first (see Scheduler.start). */
  start (): Promise<void> {
    return this.#scheduler.start()
  }

  /** With a shared store: re-reads the fleet's state now (see Scheduler.refresh). */
  async refresh (): Promise<void> {
    await this.#scheduler.refresh()
  }

  getInstances (): InstanceStatus[] {
    return this.#scheduler.getInstances()
  }

  pause (): void {
    this.#scheduler.pause()
  }

  resume (): void {
    this.#scheduler.resume()
  }

  /** The plugin calls this on close; calling it earlier stops the scheduler for good. */
  async shutdown (): Promise<void> {
    await this.#scheduler.shutdown()
  }

  on<E extends SchedulerEventName> (event: E, listener: SchedulerListener<E>): this {
    this.#scheduler.on(event, listener)
    return this
  }

  once<E extends SchedulerEventName> (event: E, listener: SchedulerListener<E>): this {
    this.#scheduler.once(event, listener)
    return this
  }

  off<E extends SchedulerEventName> (event: E, listener: SchedulerListener<E>): this {
    this.#scheduler.off(event, listener)
    return this
  }
}
