import { invalidTrigger, describe } from '../errors.js'
import { parseInstant } from '../instant.js'

/** Bounds parsed to epoch ms; shared by the three trigger kinds. */
export interface ParsedBounds {
  startAt: number | null
  endAt: number | null
  jitter: number
}

/** Parses startAt, endAt and jitter, the fields every trigger kind shares. */
export function parseBounds (record: Record<string, unknown>, zone: string): ParsedBounds {
  const startAt = record.startAt === undefined ? null : parseAt(record.startAt, zone, 'startAt')
  const endAt = record.endAt === undefined ? null : parseAt(record.endAt, zone, 'endAt')
  if (startAt !== null && endAt !== null && endAt < startAt) {
    throw invalidTrigger(`Invalid trigger: endAt ${new Date(endAt).toISOString()} is before startAt ${new Date(startAt).toISOString()}`)
  }
  const jitter = record.jitter ?? 0
  if (typeof jitter !== 'number' || !Number.isFinite(jitter) || jitter < 0) {
    throw invalidTrigger(`Invalid trigger jitter ${describe(record.jitter)}: must be a finite number of milliseconds >= 0`)
  }
  return { startAt, endAt, jitter }
}

/** Parses a DateInput, turning a parse failure into an INVALID_TRIGGER error. */
export function parseAt (value: unknown, zone: string, what: string): number {
  return guard(() => parseInstant(value, zone, what))
}

/** Runs a parser that throws plain Errors, rethrowing them as INVALID_TRIGGER with the same message. */
export function guard<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw invalidTrigger((err as Error).message, err)
  }
}

/** Formats bounds for toJSON. */
export function boundsJSON (bounds: ParsedBounds): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (bounds.startAt !== null) out.startAt = new Date(bounds.startAt).toISOString()
  if (bounds.endAt !== null) out.endAt = new Date(bounds.endAt).toISOString()
  if (bounds.jitter > 0) out.jitter = bounds.jitter
  return out
}
