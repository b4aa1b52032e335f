// A brute-force reference for cron fire times, written independently of lib/
// (no cron-parser either) so property tests can compare the trigger against it.
//
// It walks instants one step at a time (a minute, or a second for 6-field
// expressions), reads each instant's wall time in the zone with luxon, and
// applies DESIGN.md rule 8 literally:
// - an instant fires when its wall time matches the fields;
// - a fixed-time job fires only at the first occurrence of a repeated wall
//   time (fall back); a wildcard job fires at every occurrence;
// - when the wall clock jumps forward (spring forward), a fixed-time job with a
//   matching wall time inside the gap fires once at the first instant after
//   it, provided the gap is at most 3 hours; a wildcard job just skips it.
// Slow and simple on purpose.
//
// Syntax: 5 fields, or 6 with seconds first; numbers, `*`, `?`, `a-b`, `*/n`,
// `a-b/n`, `a/n`, lists; JAN-DEC and SUN-SAT (any case), Sunday as 0 or 7;
// day-of-month `L`, `nW`, `LW` (also in lists); day-of-week `nL` and `n#k` (as
// the whole field); @yearly, @annually, @monthly, @weekly, @daily, @midnight,
// @hourly.

import { DateTime } from 'luxon'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** Gaps longer than this are not caught up by fixed-time jobs. */
const MAX_CAUGHT_UP_GAP = 3 * HOUR
/**
 * How far before the window a fixed-time walk starts, so that a wall time
 * whose first occurrence lies before the window is known as already seen. A
 * wall time repeats (offset before − offset after) after its first
 * occurrence; no zone has turned its clocks back by more than 2 hours since
 * 2000 (Asia/Magadan in 2014, Antarctica/Troll every year).
 */
const LOOKBACK = 6 * HOUR

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

const ALIASES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *'
}

/** A wall time split into calendar fields. */
export interface WallTime {
  year: number
  month: number // 1-12
  day: number // 1-31
  hour: number
  minute: number
  second: number
  weekday: number // 0 = Sunday
}

export interface BruteCron {
  hasSeconds: boolean
  /** No seconds (6-field), minute or hour field starts with `*` or `?`. */
  fixedTime: boolean
  /** Whether a wall time matches every field. */
  matches (wall: WallTime): boolean
  /** Whether a calendar date matches the month, day-of-month and day-of-week fields. */
  matchesDate (year: number, month: number, day: number): boolean
}

/** Whether a field counts as unrestricted (DESIGN.md rule 8): it starts with `*` or `?`. */
function startsWild (field: string): boolean {
  return field.startsWith('*') || field.startsWith('?')
}

function daysInMonth (year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

function weekdayOf (year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay()
}

/** Reads one number or (for month / day-of-week) one name. */
function parseValue (text: string, min: number, max: number, names?: string[]): number {
  let value: number
  if (/^\d+$/.test(text)) {
    value = Number(text)
  } else {
    const index = names === undefined ? -1 : names.indexOf(text.toUpperCase())
    if (index < 0) throw new Error(`brute-cron: bad value "${text}"`)
    value = names === MONTH_NAMES ? index + 1 : index
  }
  if (value < min || value > max) throw new Error(`brute-cron: ${value} out of ${min}-${max}`)
  return value
}

export { MONTH_NAMES, DAY_NAMES }

/**
 * Expands a list of `*`, `?`, `n`, `a-b`, with optional `/step` (`a/step`
 * means `a-max/step`) into the set of values it allows. `names` is
 * MONTH_NAMES (JAN = 1) or DAY_NAMES (SUN = 0).
 */
export function expandList (field: string, min: number, max: number, names?: string[]): Set<number> {
  const values = new Set<number>()
  for (const item of field.split(',')) {
    const [base, stepText, extra] = item.split('/')
    if (extra !== undefined) throw new Error(`brute-cron: bad item "${item}"`)
    const step = stepText === undefined ? 1 : Number(stepText)
    if (!Number.isInteger(step) || step < 1) throw new Error(`brute-cron: bad step in "${item}"`)
    let low: number
    let high: number
    if (base === '*' || base === '?') {
      low = min
      high = max
    } else if (base.includes('-')) {
      const [a, b] = base.split('-')
      low = parseValue(a, min, max, names)
      high = parseValue(b, min, max, names)
      if (low > high) throw new Error(`brute-cron: reversed range "${item}"`)
    } else {
      low = parseValue(base, min, max, names)
      high = stepText === undefined ? low : max
    }
    for (let v = low; v <= high; v += step) values.add(v)
  }
  return values
}

/** Parses an expression (5 fields, 6 with seconds first, or an alias) into a matcher. */
export function parseBruteCron (expression: string): BruteCron {
  const text = expression.trim()
  const expanded = text.startsWith('@') ? ALIASES[text.toLowerCase()] : text
  if (expanded === undefined) throw new Error(`brute-cron: unknown alias "${text}"`)
  const parts = expanded.split(/\s+/)
  if (parts.length !== 5 && parts.length !== 6) throw new Error(`brute-cron: ${parts.length} fields`)
  const hasSeconds = parts.length === 6
  const [secondField, minuteField, hourField, domField, monthField, dowField] = hasSeconds ? parts : ['0', ...parts]

  const seconds = expandList(secondField, 0, 59)
  const minutes = expandList(minuteField, 0, 59)
  const hours = expandList(hourField, 0, 23)
  const months = expandList(monthField, 1, 12, MONTH_NAMES)

  // Day of month: plain values, `L` (last day), `nW` (nearest weekday), `LW` (last weekday).
  const domPlain: string[] = []
  let lastDay = false
  let lastWeekdayOfMonth = false
  const nearestWeekday: number[] = []
  for (const item of domField.split(',')) {
    const w = /^(\d+)W$/i.exec(item)
    if (item.toUpperCase() === 'L') lastDay = true
    else if (item.toUpperCase() === 'LW') lastWeekdayOfMonth = true
    else if (w !== null) nearestWeekday.push(parseValue(w[1], 1, 31))
    else domPlain.push(item)
  }
  const monthDays = domPlain.length > 0 ? expandList(domPlain.join(','), 1, 31) : new Set<number>()

  // Day of week: a list (7 is Sunday too), or a whole-field `nL` or `n#k`.
  let weekdays = new Set<number>()
  let lastWeekday: number | null = null
  let nthWeekday: { weekday: number, k: number } | null = null
  const lastForm = /^(\w+)L$/i.exec(dowField)
  const nthForm = /^(\w+)#([1-5])$/.exec(dowField)
  if (lastForm !== null) {
    lastWeekday = parseValue(lastForm[1], 0, 7, DAY_NAMES) % 7
  } else if (nthForm !== null) {
    nthWeekday = { weekday: parseValue(nthForm[1], 0, 7, DAY_NAMES) % 7, k: Number(nthForm[2]) }
  } else {
    weekdays = new Set([...expandList(dowField, 0, 7, DAY_NAMES)].map((v) => v % 7))
  }

  const domRestricted = !startsWild(domField)
  const dowRestricted = !startsWild(dowField)
  const fixedTime = !startsWild(secondField) && !startsWild(minuteField) && !startsWild(hourField)

  function nearestWeekdayTo (year: number, month: number, n: number): number | null {
    const last = daysInMonth(year, month)
    if (n > last) return null
    const wd = weekdayOf(year, month, n)
    if (wd === 6) return n === 1 ? 3 : n - 1 // Saturday: Friday before, or Monday 3rd
    if (wd === 0) return n === last ? n - 2 : n + 1 // Sunday: Monday after, or Friday before
    return n
  }

  function domMatches (year: number, month: number, day: number): boolean {
    const last = daysInMonth(year, month)
    if (monthDays.has(day)) return true
    if (lastDay && day === last) return true
    if (lastWeekdayOfMonth) {
      let d = last
      while (weekdayOf(year, month, d) === 0 || weekdayOf(year, month, d) === 6) d--
      if (d === day) return true
    }
    return nearestWeekday.some((n) => nearestWeekdayTo(year, month, n) === day)
  }

  function dowMatches (year: number, month: number, day: number): boolean {
    const wd = weekdayOf(year, month, day)
    if (lastWeekday !== null) return wd === lastWeekday && day + 7 > daysInMonth(year, month)
    if (nthWeekday !== null) return wd === nthWeekday.weekday && Math.ceil(day / 7) === nthWeekday.k
    return weekdays.has(wd)
  }

  function matchesDate (year: number, month: number, day: number): boolean {
    if (!months.has(month)) return false
    if (domRestricted && dowRestricted) return domMatches(year, month, day) || dowMatches(year, month, day)
    return domMatches(year, month, day) && dowMatches(year, month, day)
  }

  return {
    hasSeconds,
    fixedTime,
    matchesDate,
    matches (wall: WallTime): boolean {
      return seconds.has(wall.second) && minutes.has(wall.minute) && hours.has(wall.hour) &&
        matchesDate(wall.year, wall.month, wall.day)
    }
  }
}

/** A wall time given as "local milliseconds": the wall clock read as if it were UTC. */
function splitWall (local: number): WallTime {
  const d = new Date(local)
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay()
  }
}

/** The wall time (as local ms) of instant `ms` in `zone`, read with luxon. */
function wallOf (ms: number, zone: string): number {
  const dt = DateTime.fromMillis(ms, { zone })
  if (!dt.isValid) throw new Error(`brute-cron: invalid zone ${zone}`)
  return Date.UTC(dt.year, dt.month - 1, dt.day, dt.hour, dt.minute, dt.second, dt.millisecond)
}

/**
 * Walks whole minutes, or whole seconds when `bySecond`, from `fromMs` to
 * `toMs` and yields each instant with its wall time. For seconds, luxon is read
 * at the start of each UTC minute and of the next one; when both offsets agree
 * the offset cannot have changed in between (a change and a change back within
 * a minute never happen), so the seconds between are that offset plus s;
 * otherwise each second of the minute is read from luxon.
 */
function * walk (zone: string, fromMs: number, toMs: number, bySecond: boolean): Generator<[number, number]> {
  if (!bySecond) {
    for (let ms = fromMs; ms <= toMs; ms += MINUTE) yield [ms, wallOf(ms, zone)]
    return
  }
  let minuteStart = Math.floor(fromMs / MINUTE) * MINUTE
  let offset = wallOf(minuteStart, zone) - minuteStart
  let nextOffset = wallOf(minuteStart + MINUTE, zone) - (minuteStart + MINUTE)
  for (let ms = fromMs; ms <= toMs; ms += SECOND) {
    if (ms >= minuteStart + MINUTE) {
      minuteStart += MINUTE
      offset = nextOffset
      nextOffset = wallOf(minuteStart + MINUTE, zone) - (minuteStart + MINUTE)
    }
    yield [ms, offset === nextOffset ? ms + offset : wallOf(ms, zone)]
  }
}

/**
 * The instants in (fromMs, toMs] at which `expression` fires in `zone` under
 * DESIGN.md rule 8, in increasing order.
 */
export function bruteFires (expression: string, zone: string, fromMs: number, toMs: number): number[] {
  const cron = parseBruteCron(expression)
  const step = cron.hasSeconds ? SECOND : MINUTE
  const first = Math.floor(fromMs / step) * step + step // first candidate strictly after fromMs
  // Only fixed-time jobs need to know what came before the window.
  const walkStart = cron.fixedTime ? first - LOOKBACK : first
  const matchesLocal = (local: number): boolean => cron.matches(splitWall(local))

  const fires: number[] = []
  const seen = new Set<number>() // matching wall times already passed (fixed-time jobs)
  let previousWall: number | null = null
  for (const [ms, wall] of walk(zone, walkStart - step, toMs, cron.hasSeconds)) {
    let fire = false
    if (matchesLocal(wall)) {
      if (!cron.fixedTime) fire = true
      else if (!seen.has(wall)) fire = true
      seen.add(wall)
    }
    if (cron.fixedTime && previousWall !== null && wall - previousWall > step) {
      // The wall clock jumped forward: wall times strictly between were skipped.
      const gap = wall - previousWall - step
      if (gap <= MAX_CAUGHT_UP_GAP) {
        for (let missing = previousWall + step; missing < wall; missing += step) {
          if (matchesLocal(missing)) fire = true
        }
      }
    }
    previousWall = wall
    if (fire && ms >= first) fires.push(ms)
  }
  return fires
}

/**
 * Whether any calendar date matches the expression's date fields. The
 * Gregorian calendar's days and weekdays repeat every 28 years between 1901
 * and 2099, so 2000–2027 holds every combination (including all Feb 29ths).
 */
export function bruteCanFire (expression: string): boolean {
  const cron = parseBruteCron(expression)
  for (let t = Date.UTC(2000, 0, 1); t < Date.UTC(2028, 0, 1); t += DAY) {
    const d = new Date(t)
    if (cron.matchesDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate())) return true
  }
  return false
}
