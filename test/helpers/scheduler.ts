import { Scheduler, type SchedulerCoreOptions } from '../../lib/scheduler.js'
import type { SchedulerEventName, SchedulerEvents } from '../../lib/job.js'
import type { Trigger, TriggerJSON } from '../../lib/triggers/trigger.js'
import { ManualClock } from './fake-clock.js'
import { recordingLogger, type LogLine } from './logger.js'

export const EVENT_NAMES: SchedulerEventName[] = [
  'job:added', 'job:removed', 'job:updated', 'job:start', 'job:success', 'job:error',
  'job:missed', 'job:skipped', 'scheduler:start', 'scheduler:pause', 'scheduler:resume', 'scheduler:shutdown'
]

export type Recorded = { [E in SchedulerEventName]: { event: E, payload: SchedulerEvents[E] } }[SchedulerEventName]

export interface Harness {
  scheduler: Scheduler<{ app: string }>
  clock: ManualClock
  events: Recorded[]
  logs: LogLine[]
  /** The payloads of one event, in order. */
  of: <E extends SchedulerEventName>(event: E) => Array<SchedulerEvents[E]>
}

/** A scheduler on a manual clock (UTC by default) that records its events and logs. */
export function harness (options: SchedulerCoreOptions<{ app: string }> & { start?: number | string } = {}): Harness {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock(options.start)
  const logger = recordingLogger()
  const scheduler = new Scheduler({ timezone: 'UTC', logger, context: { app: 'owner' }, ...options, clock })
  const events: Recorded[] = []
  for (const event of EVENT_NAMES) {
    scheduler.on(event, ((payload: unknown) => { events.push({ event, payload } as unknown as Recorded) }) as never)
  }
  const of = <E extends SchedulerEventName>(event: E): Array<SchedulerEvents[E]> =>
    events.filter((entry) => entry.event === event).map((entry) => entry.payload as SchedulerEvents[E])
  return { scheduler, clock, events, logs: logger.lines, of }
}

/**
 * A custom Trigger firing at the given instants (sorted), for cases real triggers
 * can't produce. `json` overrides what toJSON reports.
 */
export function listTrigger (fires: number[], json: Partial<TriggerJSON> = {}, jitter = 0): Trigger & { calls: number } {
  const trigger = {
    calls: 0,
    jitter,
    next (after: Date): Date | null {
      trigger.calls++
      const at = fires.find((fire) => fire > after.getTime())
      return at === undefined ? null : new Date(at)
    },
    toJSON (): TriggerJSON {
      return { type: 'date', description: 'a list of instants', ...json }
    }
  }
  return trigger
}

/** A custom Trigger firing every `period` ms from `anchor` (for all time, both ways). */
export function periodicTrigger (anchor: number, period: number, json: Partial<TriggerJSON> = {}): Trigger & { calls: number } {
  const trigger = {
    calls: 0,
    jitter: 0,
    next (after: Date): Date | null {
      trigger.calls++
      return new Date(anchor + (Math.floor((after.getTime() - anchor) / period) + 1) * period)
    },
    toJSON (): TriggerJSON {
      return { type: 'date', description: `every ${period} ms`, ...json }
    }
  }
  return trigger
}

export const iso = (ms: number | Date): string => new Date(ms).toISOString()
