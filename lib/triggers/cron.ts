import { describe, invalidTrigger } from '../errors.js'
import type { Trigger, TriggerJSON } from './trigger.js'
import { boundsJSON, type ParsedBounds } from './bounds.js'
import { parseCronFields, type CronFields } from './cron-fields.js'
import { civilFromDays, DAY, daysFromCivil, daysInMonth, weekday } from './calendar.js'
import { zoneOffsets, type ZoneOffsets } from './zone.js'

const HOUR = 3_600_000
/** A wall time's instants lie within this far of it: UTC offsets span -12h..+14h. */
const MAX_EAST = 14 * HOUR
const MAX_WEST = 12 * HOUR
/** Gaps longer than this are clock changes, not DST: fixed-time fires in them are not caught up. */
const MAX_CAUGHT_UP_GAP = 3 * HOUR
/** The Gregorian calendar repeats every 400 years: a day that matches exists within that span or never. */
const SEARCH_DAYS = 146_097
const MASK_CACHE_LIMIT = 4096
/** The last instant a Date can hold. */
const MAX_DATE = 8.64e15

/**
 * A cron trigger whose fire times are a pure function of (expression, zone),
 * following DESIGN.md rule 8:
 * - wall times are enumerated from the parsed fields in calendar order;
 * - each wall time is mapped to its instants in the zone: one normally, two in
 *   a fall-back overlap (fixed-time jobs take the first only), none in a
 *   spring-forward gap (fixed-time jobs fire once at the end of a gap of at
 *   most 3 hours, wildcard jobs skip it);
 * - `next` returns the smallest such instant at or after the search start.
 * Because an overlap makes instants leave wall-time order, the search keeps
 * going until no later wall time can produce an earlier instant.
 */
export class CronTrigger implements Trigger {
  readonly jitter: number
  private readonly expression: string
  private readonly fields: CronFields
  private readonly zone: ZoneOffsets
  private readonly bounds: ParsedBounds
  private readonly masks: Map<number, number>
  /** The last answer of firstFireFrom, shared by every trigger with this expression and zone. */
  private readonly memo: FireMemo

  constructor (expression: unknown, zone: string, bounds: ParsedBounds) {
    this.fields = parseCronFields(expression)
    this.masks = sharedMasks(this.fields)
    this.memo = sharedMemo(this.fields, zone)
    this.expression = (expression as string).trim()
    this.zone = zoneOffsets(zone)
    this.bounds = bounds
    this.jitter = bounds.jitter
    if (this.nextWall(0) === null) {
      throw invalidTrigger(`Invalid cron expression ${describe(expression)}: it can never fire (no date matches its day and month fields)`)
    }
    if (bounds.startAt !== null && bounds.endAt !== null && this.next(new Date(bounds.startAt - 1)) === null) {
      throw invalidTrigger(`Invalid trigger ${describe(expression)}: it never fires between startAt ${new Date(bounds.startAt).toISOString()} and endAt ${new Date(bounds.endAt).toISOString()}`)
    }
  }

  next (after: Date): Date | null {
    // Fires fall on whole seconds; the first candidate is the next whole second.
    let from = Math.floor(after.getTime() / 1000) * 1000 + 1000
    const { startAt, endAt } = this.bounds
    if (startAt !== null && from < startAt) from = Math.ceil(startAt / 1000) * 1000
    // Jobs that share an expression and zone ask for the same instant in the same
    // wake (10,000 every-second jobs: 10,000 identical questions); the answer is a
    // pure function of (expression, zone, from), so the last one is kept.
    const memo = this.memo
    if (memo.from !== from) {
      memo.fire = this.firstFireFrom(from)
      memo.from = from
    }
    const fire = memo.fire
    if (fire === null || fire > (endAt ?? MAX_DATE)) return null
    return new Date(fire)
  }

  toJSON (): TriggerJSON {
    return {
      type: 'cron',
      description: `${this.expression} (${this.zone.name})`,
      expression: this.expression,
      timezone: this.zone.name,
      ...boundsJSON(this.bounds)
    }
  }

  /** The first fire instant >= from (a whole second), or null past the search horizon. */
  private firstFireFrom (from: number): number | null {
    const zone = this.zone
    const fixedTime = this.fields.fixedTime
    // Wall times are searched from from's own wall time, except that a fixed-time job also
    // looks at the wall times of a gap that ended exactly at `from` (it fires them at `from`).
    const here = zone.offset(from)
    let start = from + here
    if (fixedTime) start = Math.min(start, from + zone.offset(from - 1))
    let best = Number.POSITIVE_INFINITY
    // Past MAX_DATE no Date (and no zone offset) exists: stop there rather than search on.
    for (let wall = this.nextWall(start); wall !== null && wall <= MAX_DATE + MAX_EAST; wall = this.nextWall(wall + 1000)) {
      // Offsets on both sides of the span this wall time's instants can lie in.
      const offsetA = zone.offset(wall - MAX_EAST)
      const offsetB = zone.offset(wall + MAX_WEST)
      // `floor`: no later wall time has an instant below it (with one transition nearby,
      // instants only leave wall-time order through the second pass of an overlap).
      let floor: number
      if (offsetA === offsetB) {
        // No transition near this wall time: exactly one instant.
        floor = wall - offsetA
        if (floor >= from && floor < best) best = floor
      } else {
        const first = wall - offsetA
        const second = wall - offsetB
        const firstExists = zone.offset(first) === offsetA
        const secondExists = zone.offset(second) === offsetB
        if (firstExists && secondExists) {
          // Fall back: the wall time happens twice; offsetA > offsetB so `first` is earlier.
          // A first pass behind `from` means `from` is in the second pass (the search
          // starts at from's wall time), where later wall times come after `second`.
          if (first >= from) {
            floor = first
            if (first < best) best = first
          } else {
            floor = second
            if (!fixedTime && second >= from && second < best) best = second
          }
        } else if (firstExists || secondExists) {
          floor = firstExists ? first : second
          if (floor >= from && floor < best) best = floor
        } else {
          // Spring forward (offsetB > offsetA): the wall time doesn't exist. Later wall
          // times lie after the gap, at wall - offsetB or later.
          floor = wall + 1000 - offsetB
          if (fixedTime && offsetB - offsetA <= MAX_CAUGHT_UP_GAP) {
            // A fixed-time job runs at the first instant after the gap.
            const gapEnd = zone.transitionBetween(second, first)
            if (gapEnd >= from && gapEnd < best) best = gapEnd
          }
        }
      }
      if (floor >= best) break
    }
    // A wildcard job also fires in the second pass of a fall-back in the next hours, at
    // wall times before from's own: the earliest of them is the first matching wall time
    // of the repeated span, run under the smaller offset.
    const ahead = zone.offset(from + 4 * HOUR)
    if (!fixedTime && ahead < here) {
      const repeated = this.nextWall(zone.transitionBetween(from, from + 4 * HOUR) + ahead)
      if (repeated !== null && repeated < from + here && repeated - ahead < best) best = repeated - ahead
    }
    return best === Number.POSITIVE_INFINITY ? null : best
  }

  /** The first wall time (local ms) >= from that matches the fields, within the search horizon. */
  private nextWall (from: number): number | null {
    const fields = this.fields
    let days = Math.floor(from / DAY)
    let second = (from - days * DAY) / 1000
    const limit = days + SEARCH_DAYS
    let { year, month, day } = civilFromDays(days)
    while (days <= limit) {
      const matching = (fields.months >> month) & 1 ? this.dayMask(year, month) >>> (day - 1) : 0
      if (matching !== 0) {
        // Skip to the first matching day from `day` on (count trailing zero bits).
        const skip = 31 - Math.clz32(matching & -matching)
        if (skip > 0) {
          day += skip
          days += skip
          second = 0
        }
        const time = this.nextTimeOfDay(second)
        if (time >= 0) return days * DAY + time * 1000
        if (day < daysInMonth(year, month)) {
          day++
          days++
          second = 0
          continue
        }
      }
      // Nothing left this month: go to the 1st of the next one.
      if (month === 12) {
        year++
        month = 1
      } else {
        month++
      }
      day = 1
      days = daysFromCivil(year, month, 1)
      second = 0
    }
    return null
  }

  /** The first allowed second of the day >= second, or -1. */
  private nextTimeOfDay (second: number): number {
    const { nextHour, nextMinute, nextSecond } = this.fields
    const h = Math.floor(second / 3600)
    const m = Math.floor((second % 3600) / 60)
    const s = second % 60
    let hour = nextHour[h]
    if (hour === h) {
      let minute = nextMinute[m]
      if (minute === m) {
        const sec = nextSecond[s]
        if (sec >= 0) return h * 3600 + m * 60 + sec
        minute = nextMinute[m + 1]
      }
      if (minute >= 0) return h * 3600 + minute * 60 + nextSecond[0]
      hour = nextHour[h + 1]
    }
    if (hour < 0) return -1
    return hour * 3600 + nextMinute[0] * 60 + nextSecond[0]
  }

  /** Bit d-1 set when day d of the month matches the day-of-month and day-of-week fields. */
  private dayMask (year: number, month: number): number {
    const key = year * 16 + month
    let mask = this.masks.get(key)
    if (mask === undefined) {
      if (this.masks.size >= MASK_CACHE_LIMIT) this.masks.clear()
      mask = computeDayMask(this.fields, year, month)
      this.masks.set(key, mask)
    }
    return mask
  }
}

interface FireMemo { from: number, fire: number | null }
const memos = new WeakMap<CronFields, Map<string, FireMemo>>()

function sharedMemo (fields: CronFields, zone: string): FireMemo {
  let byZone = memos.get(fields)
  if (byZone === undefined) {
    byZone = new Map()
    memos.set(fields, byZone)
  }
  let memo = byZone.get(zone)
  if (memo === undefined) {
    memo = { from: Number.NaN, fire: null }
    byZone.set(zone, memo)
  }
  return memo
}

/** Day masks per parsed expression: triggers with the same expression share them (and their memory). */
const masksByFields = new WeakMap<CronFields, Map<number, number>>()

function sharedMasks (fields: CronFields): Map<number, number> {
  let masks = masksByFields.get(fields)
  if (masks === undefined) {
    masks = new Map()
    masksByFields.set(fields, masks)
  }
  return masks
}

function computeDayMask (fields: CronFields, year: number, month: number): number {
  const length = daysInMonth(year, month)
  const all = length === 31 ? 0x7fffffff : (1 << length) - 1
  const firstWeekday = weekday(daysFromCivil(year, month, 1))
  const weekdayOf = (day: number): number => (firstWeekday + day - 1) % 7
  // A `*` or `?` field still constrains (`*/2` is odd days); it only decides AND versus OR.
  let byMonthDay = fields.monthDays & all
  if (fields.lastDay) byMonthDay |= 1 << (length - 1)
  for (const day of fields.nearestWeekdays) {
    if (day <= length) byMonthDay |= 1 << (nearestWeekday(day, length, weekdayOf(day)) - 1)
  }
  if (fields.lastWeekday) byMonthDay |= 1 << (nearestWeekday(length, length, weekdayOf(length)) - 1)
  let byWeekday = 0
  for (let day = 1; day <= length; day++) {
    const bit = 1 << weekdayOf(day)
    const plain = (fields.weekdays & bit) !== 0 && (fields.nth === 0 || Math.ceil(day / 7) === fields.nth)
    const last = (fields.lastWeekdays & bit) !== 0 && day + 7 > length
    if (plain || last) byWeekday |= 1 << (day - 1)
  }
  return fields.domRestricted && fields.dowRestricted ? byMonthDay | byWeekday : byMonthDay & byWeekday
}

/** `nW`: day n if it is a weekday, else the nearest weekday without leaving the month. */
function nearestWeekday (day: number, length: number, dayOfWeek: number): number {
  if (dayOfWeek === 6) return day > 1 ? day - 1 : day + 2 // Saturday: Friday, or Monday the 3rd
  if (dayOfWeek === 0) return day < length ? day + 1 : day - 2 // Sunday: Monday, or Friday before the last day
  return day
}
