/**
 * Every error this package throws is a SchedulerError with a stable `code`
 * starting `FST_SCHEDULER_`, so callers can branch on `err.code` instead of
 * parsing messages. `statusCode` follows Fastify's convention, so an error that
 * escapes into a route handler is answered with the right HTTP status.
 */
export class SchedulerError extends Error {
  readonly code: string
  readonly statusCode: number

  constructor (code: string, message: string, statusCode = 500, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SchedulerError'
    this.code = code
    this.statusCode = statusCode
  }
}

/** The codes, in one place, so the README and the tests can list them. */
export const ErrorCodes = {
  /** A trigger spec that can't be parsed or can never fire. */
  INVALID_TRIGGER: 'FST_SCHEDULER_INVALID_TRIGGER',
  /** A time zone name the runtime doesn't know. */
  INVALID_TIMEZONE: 'FST_SCHEDULER_INVALID_TIMEZONE',
  /** A job definition with a missing or wrong field (id, handler, maxInstances, ...). */
  INVALID_JOB: 'FST_SCHEDULER_INVALID_JOB',
  /** A scheduler or plugin option with a wrong type or value. */
  INVALID_OPTION: 'FST_SCHEDULER_INVALID_OPTION',
  /** addJob with an id that is taken (and no replaceExisting). */
  DUPLICATE_JOB: 'FST_SCHEDULER_DUPLICATE_JOB',
  /** An id no job has. */
  JOB_NOT_FOUND: 'FST_SCHEDULER_JOB_NOT_FOUND',
  /** An operation the scheduler's state doesn't allow (adding jobs after shutdown, ...). */
  INVALID_STATE: 'FST_SCHEDULER_INVALID_STATE',
  /** A shared store that can't be reached (at startup: app.ready() fails with it), or that answered with an error. */
  STORE_UNAVAILABLE: 'FST_SCHEDULER_STORE_UNAVAILABLE'
} as const

export type ErrorCode = typeof ErrorCodes[keyof typeof ErrorCodes]

export function invalidTrigger (message: string, cause?: unknown): SchedulerError {
  return new SchedulerError(ErrorCodes.INVALID_TRIGGER, message, 500, cause === undefined ? undefined : { cause })
}

export function invalidOption (name: string, value: unknown, rule: string): SchedulerError {
  return new SchedulerError(ErrorCodes.INVALID_OPTION, `Invalid option ${name} ${describe(value)}: ${rule}`)
}

export function invalidTimezone (zone: unknown): SchedulerError {
  return new SchedulerError(ErrorCodes.INVALID_TIMEZONE, `Unknown time zone ${describe(zone)}: expected an IANA zone name such as "Europe/Berlin" or "UTC"`)
}

/** Renders a user-supplied value for an error message: strings quoted, the rest as JSON where possible. */
export function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' || value == null) return String(value)
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`
  try {
    return JSON.stringify(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/** A shared store that couldn't be reached or answered with an error; the message names the store and where it is. */
export function storeUnavailable (kind: string, address: string, action: string, cause: unknown): SchedulerError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new SchedulerError(ErrorCodes.STORE_UNAVAILABLE, `The ${kind} store at ${address} is unavailable (${action}): ${reason}`, 503, { cause })
}
