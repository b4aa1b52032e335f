import { CronExpressionParser } from 'cron-parser'
import { describe, invalidTrigger } from '../errors.js'

/**
 * A cron expression reduced to lookup tables. cron-parser parses and validates
 * the syntax; this module only adds what it lacks (the field-count check, the
 * `W`/`LW` day-of-month forms, the fixed-time/wildcard classification of
 * DESIGN.md rule 8) and flattens its values into tables the trigger can
 * search in constant time.
 */
export interface CronFields {
  /** nextSecond[s]: the smallest allowed second >= s, or -1. Index 60 is -1. */
  readonly nextSecond: Int8Array
  readonly nextMinute: Int8Array
  /** nextHour[h] for h in 0..24; index 24 is -1. */
  readonly nextHour: Int8Array
  /** Bit m (1–12) set when month m is allowed. */
  readonly months: number
  /** Bit d-1 set when day-of-month d is listed. */
  readonly monthDays: number
  /** `L` in day-of-month: the month's last day. */
  readonly lastDay: boolean
  /** `nW`: the weekday nearest day n, within the month. */
  readonly nearestWeekdays: readonly number[]
  /** `LW`: the month's last weekday. */
  readonly lastWeekday: boolean
  /** Bit w (0 = Sunday) set when weekday w is listed plainly (with `#k` when nth > 0). */
  readonly weekdays: number
  /** Bit w set for `wL`: the month's last weekday w. */
  readonly lastWeekdays: number
  /** k of `w#k`, else 0. */
  readonly nth: number
  /** Day-of-month / day-of-week restricted (not starting with `*` or `?`): both restricted means OR. */
  readonly domRestricted: boolean
  readonly dowRestricted: boolean
  /** No seconds (6-field), minute or hour field starts with `*` or `?` (DESIGN.md rule 8). */
  readonly fixedTime: boolean
}

const ALIASES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
  '@minutely': '* * * * *',
  '@secondly': '* * * * * *'
}

const NEAREST_WEEKDAY = /^([1-9]|[12]\d|3[01])W$/i
const LAST_WEEKDAY = /^LW$/i

/** Parsed expressions by text: many jobs share an expression, and cron-parser takes ~50 µs a parse. */
const parsedCache = new Map<string, CronFields>()
const PARSED_CACHE_LIMIT = 1000

/** Parses (or recalls) an expression; the result is shared, so it is never mutated. */
export function parseCronFields (expression: unknown): CronFields {
  if (typeof expression !== 'string') {
    throw invalidTrigger(`Invalid cron expression ${describe(expression)}: expected a string such as "*/5 * * * *"`)
  }
  let fields = parsedCache.get(expression)
  if (fields === undefined) {
    fields = parse(expression)
    if (parsedCache.size >= PARSED_CACHE_LIMIT) parsedCache.clear()
    parsedCache.set(expression, fields)
  }
  return fields
}

function parse (expression: string): CronFields {
  const fields = splitFields(expression)
  const [second, minute, hour, dom, month, dow] = fields

  // cron-parser doesn't know W: take those tokens out of day-of-month and handle them here.
  const nearestWeekdays: number[] = []
  let lastWeekday = false
  const plainDomTokens = dom.split(',').filter((token) => {
    const nearest = NEAREST_WEEKDAY.exec(token)
    if (nearest !== null) nearestWeekdays.push(Number(nearest[1]))
    else if (LAST_WEEKDAY.test(token)) lastWeekday = true
    else return true
    return false
  })
  const domForParser = plainDomTokens.length > 0 ? plainDomTokens.join(',') : '*'

  let parsed
  try {
    parsed = CronExpressionParser.parse([second, minute, hour, domForParser, month, dow].join(' '), { strict: false }).fields
  } catch (err) {
    throw invalidTrigger(`Invalid cron expression ${describe(expression)}: ${(err as Error).message}`, err)
  }

  // Only W tokens in day-of-month: the field lists no plain day (the `*` handed to cron-parser was a placeholder).
  let monthDays = 0
  let lastDay = false
  if (plainDomTokens.length > 0) {
    for (const value of parsed.dayOfMonth.values) {
      if (value === 'L') lastDay = true
      else monthDays |= 1 << (value - 1)
    }
  }
  let weekdays = 0
  let lastWeekdays = 0
  for (const value of parsed.dayOfWeek.values) {
    if (typeof value === 'number') weekdays |= 1 << (value % 7)
    else lastWeekdays |= 1 << (Number.parseInt(value, 10) % 7) // 'nL'
  }
  const restricted = (field: string): boolean => !(field.startsWith('*') || field.startsWith('?'))
  let months = 0
  for (const value of parsed.month.values) months |= 1 << value

  return {
    nextSecond: nextAllowed(parsed.second.values, 60),
    nextMinute: nextAllowed(parsed.minute.values, 60),
    nextHour: nextAllowed(parsed.hour.values, 24),
    months,
    monthDays,
    lastDay,
    nearestWeekdays: Object.freeze(nearestWeekdays) as number[],
    lastWeekday,
    weekdays,
    lastWeekdays,
    nth: parsed.dayOfWeek.nthDay,
    domRestricted: restricted(dom),
    dowRestricted: restricted(dow),
    fixedTime: restricted(second) && restricted(minute) && restricted(hour)
  }
}

/** Six fields, seconds first: aliases expanded, a 5-field expression given second 0. */
function splitFields (expression: string): string[] {
  const text = expression.trim()
  if (text === '') throw invalidTrigger(`Invalid cron expression ${describe(expression)}: it is empty`)
  if (text.startsWith('@')) {
    const alias = ALIASES[text.toLowerCase()]
    if (alias === undefined) {
      throw invalidTrigger(`Invalid cron expression ${describe(expression)}: unknown alias; known aliases: ${Object.keys(ALIASES).join(', ')}`)
    }
    return splitFields(alias)
  }
  const fields = text.split(/\s+/)
  if (fields.length === 5) return ['0', ...fields]
  if (fields.length === 6) return fields
  throw invalidTrigger(`Invalid cron expression ${describe(expression)}: expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got ${fields.length}`)
}

/** table[i] = smallest allowed value >= i, or -1; table has size max + 1 with table[max] = -1. */
function nextAllowed (values: readonly (number | string)[], max: number): Int8Array {
  const table = new Int8Array(max + 1).fill(-1)
  const allowed = new Set(values)
  let next = -1
  for (let i = max - 1; i >= 0; i--) {
    if (allowed.has(i)) next = i
    table[i] = next
  }
  return table
}
