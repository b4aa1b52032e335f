// The package's public surface. The Fastify plugin (the default export) joins
// this file when it lands; the triggers and errors are usable on their own.
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
export type { SchedulerCoreOptions, RunHandle } from './scheduler.js'
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
