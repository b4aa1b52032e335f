import { Duration as LuxonDuration } from 'luxon'
import { describe } from './errors.js'

/** A duration object; every field is optional, at least one must be positive. */
export interface DurationObject {
  weeks?: number
  days?: number
  hours?: number
  minutes?: number
  seconds?: number
  milliseconds?: number
}

/** Milliseconds, an ISO 8601 duration (`'PT30S'`) or a duration object. */
export type DurationInput = number | string | DurationObject

const UNIT_MS: Record<keyof DurationObject, number> = {
  weeks: 604_800_000,
  days: 86_400_000,
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1000,
  milliseconds: 1
}

/**
 * Converts a duration to a positive integer number of milliseconds, or throws a
 * plain Error whose message names the value (the caller adds the error code and
 * the job). Durations are exact elapsed time: a day is 24 hours. Months and years
 * have no fixed length, so they are refused rather than guessed (use cron).
 */
export function parseDuration (input: unknown, what = 'duration'): number {
  const ms = toMillis(input, what)
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new Error(`Invalid ${what} ${describe(input)}: must be a positive, finite length of time`)
  }
  if (!Number.isInteger(ms)) {
    throw new Error(`Invalid ${what} ${describe(input)}: must be a whole number of milliseconds`)
  }
  return ms
}

function toMillis (input: unknown, what: string): number {
  if (typeof input === 'number') return input
  if (typeof input === 'string') return isoToMillis(input, what)
  if (input !== null && typeof input === 'object' && !Array.isArray(input) && !(input instanceof Date)) {
    return objectToMillis(input as Record<string, unknown>, what)
  }
  throw new Error(`Invalid ${what} ${describe(input)}: expected milliseconds, an ISO 8601 duration such as "PT5M", or an object such as { minutes: 5 }`)
}

function isoToMillis (text: string, what: string): number {
  const parsed = LuxonDuration.fromISO(text)
  if (!parsed.isValid) {
    throw new Error(`Invalid ${what} ${describe(text)}: not an ISO 8601 duration (for example "PT30S", "PT1H30M", "P1D")`)
  }
  if (parsed.years !== 0 || parsed.quarters !== 0 || parsed.months !== 0) {
    throw new Error(`Invalid ${what} ${describe(text)}: months and years have no fixed length; use a cron trigger for calendar schedules`)
  }
  return parsed.as('milliseconds')
}

function objectToMillis (object: Record<string, unknown>, what: string): number {
  let total = 0
  let fields = 0
  for (const [key, value] of Object.entries(object)) {
    if (!(key in UNIT_MS)) {
      const hint = key === 'months' || key === 'years' ? ': months and years have no fixed length; use a cron trigger' : `; known units: ${Object.keys(UNIT_MS).join(', ')}`
      throw new Error(`Invalid ${what} ${describe(object)}: unknown unit "${key}"${hint}`)
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new Error(`Invalid ${what} ${describe(object)}: "${key}" must be a finite number >= 0`)
    }
    total += value * UNIT_MS[key as keyof DurationObject]
    fields++
  }
  if (fields === 0) throw new Error(`Invalid ${what} ${describe(object)}: name at least one unit, such as { minutes: 5 }`)
  // Fractions of units (0.1 hours) can leave float dust; a whole-ms result is what was meant.
  return Math.abs(total - Math.round(total)) < 1e-6 ? Math.round(total) : total
}

/** A compact human form: 5400000 → "1h 30m". */
export function formatDuration (ms: number): string {
  const parts: string[] = []
  let rest = ms
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  if (rest > 0) parts.push(`${rest}ms`)
  return parts.join(' ')
}
