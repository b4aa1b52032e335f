import { describe, invalidTrigger } from '../errors.js'
import type { DateInput } from '../instant.js'
import type { DurationInput } from '../duration.js'
import { CronTrigger } from './cron.js'
import { IntervalTrigger } from './interval.js'
import { DateTrigger } from './date.js'
import { resolveZone } from './zone.js'
import { parseAt, parseBounds } from './bounds.js'

/** Fields every trigger accepts. */
export interface TriggerBounds {
  /** No fire before this instant (inclusive). */
  startAt?: DateInput
  /** No fire after this instant (inclusive). */
  endAt?: DateInput
  /** Each fire is delayed by a random 0..jitter ms (applied by the scheduler, not by `next`). */
  jitter?: number
}

export interface CronTriggerSpec extends TriggerBounds {
  /** 5 fields, 6 with seconds first, or an alias such as `@daily`. */
  cron: string
  /** IANA zone the expression is read in; default: the scheduler's zone, else the process's. */
  timezone?: string
  interval?: never
  at?: never
  immediate?: never
}

export interface IntervalTriggerSpec extends TriggerBounds {
  /** Milliseconds, an ISO 8601 duration or a duration object. */
  interval: DurationInput
  /** Also fire at the anchor itself (the instant the job is scheduled). */
  immediate?: boolean
  cron?: never
  at?: never
  timezone?: never
}

export interface DateTriggerSpec extends TriggerBounds {
  /** The one instant to fire at. */
  at: DateInput
  cron?: never
  interval?: never
  immediate?: never
  timezone?: never
}

export type TriggerSpec = CronTriggerSpec | IntervalTriggerSpec | DateTriggerSpec

export type TriggerType = 'cron' | 'interval' | 'date'

/** The JSON form of a trigger, as shown in `JobStatus.trigger`. */
export interface TriggerJSON {
  type: TriggerType
  description: string
  [field: string]: unknown
}

export interface Trigger {
  /** The first fire time strictly after `after`, or null when there is none. Pure. */
  next (after: Date): Date | null
  toJSON (): TriggerJSON
  /** Max random delay per fire in ms; the scheduler applies it. 0 when none. */
  readonly jitter: number
}

export interface CreateTriggerOptions {
  /** Zone for cron specs that name none; default: the process's zone. */
  timezone?: string
  /**
   * Where an interval without `startAt` is anchored: the instant the job is
   * scheduled. Default: the moment `createTrigger` is called.
   */
  anchor?: DateInput
}

const KINDS = ['cron', 'interval', 'at'] as const
const KNOWN_KEYS = new Set(['cron', 'interval', 'at', 'timezone', 'immediate', 'startAt', 'endAt', 'jitter'])

/**
 * Validates a spec and builds its Trigger. Every problem is a SchedulerError
 * with code FST_SCHEDULER_INVALID_TRIGGER (or FST_SCHEDULER_INVALID_TIMEZONE)
 * whose message names the offending value.
 */
export function createTrigger (spec: TriggerSpec, options: CreateTriggerOptions = {}): Trigger {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw invalidTrigger(`Invalid trigger ${describe(spec)}: expected an object such as { cron: '0 * * * *' }, { interval: 60000 } or { at: '2026-12-24T18:00:00Z' }`)
  }
  const record = spec as unknown as Record<string, unknown>
  const kinds = KINDS.filter((kind) => record[kind] !== undefined)
  if (kinds.length !== 1) {
    const found = kinds.length === 0 ? 'none' : kinds.join(' and ')
    throw invalidTrigger(`Invalid trigger ${describe(spec)}: give exactly one of "cron", "interval" or "at" (found ${found})`)
  }
  for (const key of Object.keys(record)) {
    if (!KNOWN_KEYS.has(key)) {
      throw invalidTrigger(`Invalid trigger ${describe(spec)}: unknown field "${key}"`)
    }
  }
  const kind = kinds[0]
  if (kind !== 'cron' && record.timezone !== undefined) {
    throw invalidTrigger(`Invalid trigger ${describe(spec)}: "timezone" applies to cron triggers only`)
  }
  if (kind !== 'interval' && record.immediate !== undefined) {
    throw invalidTrigger(`Invalid trigger ${describe(spec)}: "immediate" applies to interval triggers only`)
  }
  const defaultZone = resolveZone(options.timezone)
  const bounds = parseBounds(record, defaultZone)
  if (kind === 'cron') {
    const zone = record.timezone === undefined ? defaultZone : resolveZone(record.timezone)
    return new CronTrigger(record.cron, zone, bounds)
  }
  if (kind === 'interval') {
    const anchor = options.anchor === undefined ? Date.now() : parseAt(options.anchor, defaultZone, 'anchor')
    return new IntervalTrigger(record.interval, record.immediate, bounds, anchor)
  }
  return new DateTrigger(record.at, defaultZone, bounds)
}
