import { DateTime } from 'luxon'
import { describe } from './errors.js'

/** A point in time: a Date, an ISO 8601 string, or epoch milliseconds. */
export type DateInput = Date | string | number

/**
 * Converts a DateInput to epoch milliseconds, or throws a plain Error naming the
 * value. An ISO string without an offset ('2026-12-24T18:00') is read as wall
 * time in `zone` (the scheduler's time zone), like `new Date(text)` reads it in
 * the process's zone.
 */
export function parseInstant (input: unknown, zone: string, what = 'date'): number {
  let ms: number
  if (input instanceof Date) {
    ms = input.getTime()
  } else if (typeof input === 'number') {
    ms = input
  } else if (typeof input === 'string') {
    const parsed = DateTime.fromISO(input.trim(), { zone })
    ms = parsed.isValid ? parsed.toMillis() : Number.NaN
  } else {
    throw new Error(`Invalid ${what} ${describe(input)}: expected a Date, an ISO 8601 string or epoch milliseconds`)
  }
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    throw new Error(`Invalid ${what} ${describe(input)}: not a valid point in time (use a Date, an ISO 8601 string such as "2026-12-24T18:00:00Z", or epoch milliseconds)`)
  }
  return ms
}
