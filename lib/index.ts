// The package's public surface: the Fastify plugin (default and named export),
// and the triggers, errors and Scheduler core, which are usable on their own.
import { fastifyScheduler } from './plugin.js'

export default fastifyScheduler
export { fastifyScheduler }
export type { SchedulerOptions, RoutesOptions, JobSource, OnRequestHook, PreHandlerHook } from './options.js'
export { BoundScheduler } from './bound-scheduler.js'
export { Cron, Interval, At, jobsOf, declareJobs } from './decorators.js'
export type { CronOptions, IntervalOptions, AtOptions, DeclaredJobOptions, JobDecorator } from './decorators.js'
export { createTrigger } from './triggers/trigger.js'
export type {
  Trigger,
  TriggerJSON,
  TriggerSpec,
  TriggerType,
  TriggerBounds,
  CronTriggerSpec,
  IntervalTriggerSpec,
  DateTriggerSpec,
  CreateTriggerOptions
} from './triggers/trigger.js'
export type { DurationInput, DurationObject } from './duration.js'
export type { DateInput } from './instant.js'
export { SchedulerError, ErrorCodes } from './errors.js'
export type { ErrorCode } from './errors.js'
export { Scheduler } from './scheduler.js'
export type { SchedulerCoreOptions, RunHandle, InstanceStatus } from './scheduler.js'
export { memoryStore, MemoryStore } from './stores/memory.js'
export type { MemoryStoreOptions } from './stores/memory.js'
export type { Store, StoredJob, StoredRun, SharedDefinition, DeclaredJob, Claim, ClaimKind, ClaimOutcome, RunEnd, LostRun, InstanceInfo, HeartbeatResult, JobChangeRequest } from './stores/store.js'
export type { Clock } from './clock.js'
export type {
  JobContext,
  JobDefinition,
  JobHandler,
  JobOptions,
  JobStats,
  JobStatus,
  LastRun,
  Logger,
  RunError,
  RunResult,
  RunStatus,
  SchedulerEvents,
  SchedulerEventName,
  SchedulerListener,
  SchedulerState,
  SkipReason,
  JobChange
} from './job.js'
