/**
 * Counting and finding a trigger's fires over a span of time without
 * enumerating them one by one (DESIGN rule 4): after a clock jump of a year an
 * every-second job has 31 million due fires, and the wake that notices must stay
 * O(1) in that number. Interval triggers are counted arithmetically; other
 * triggers are walked for at most MAX_WALK fires, then extrapolated (counts) or
 * searched backwards in doubling steps and bisected (the latest fire).
 */
import type { Trigger } from './triggers/trigger.js'

/** The most fires walked one by one per question. */
export const MAX_WALK = 1000

/** A trigger plus what its JSON form tells about its regularity. */
export interface FireSeries {
  readonly trigger: Trigger
  /** The fixed distance between fires, when the trigger has one (an interval trigger). */
  readonly period: number | null
  /** The last instant a fire may have (inclusive), when known. */
  readonly endAt: number | null
}

export function fireSeries (trigger: Trigger): FireSeries {
  const json = trigger.toJSON()
  const intervalMs = json.intervalMs
  const period = json.type === 'interval' && typeof intervalMs === 'number' && Number.isFinite(intervalMs) && intervalMs > 0
    ? intervalMs
    : null
  const endAt = typeof json.endAt === 'string' ? Date.parse(json.endAt) : Number.NaN
  return { trigger, period, endAt: Number.isNaN(endAt) ? null : endAt }
}

/** The first fire strictly after `after` (ms), or null. */
export function nextFire (series: FireSeries, after: number): number | null {
  const next = series.trigger.next(new Date(after))
  return next === null ? null : next.getTime()
}

/**
 * How many fires lie in [first, limit), where `first` is itself a fire. Exact
 * for intervals and for up to MAX_WALK fires of other triggers; beyond that,
 * an estimate from the rate of the walked fires.
 */
export function countFires (series: FireSeries, first: number, limit: number): number {
  if (first >= limit) return 0
  const end = series.endAt === null ? limit - 1 : Math.min(limit - 1, series.endAt)
  const arithmetic = alignedLast(series, first, end)
  if (arithmetic !== null) return arithmetic.steps + 1
  let count = 0
  let at: number | null = first
  while (at !== null && at < limit) {
    if (count === MAX_WALK) {
      // Extrapolate from the rate so far; `at` (a fire before the limit) counts at least once.
      const rate = count / (at - first)
      return count + Math.max(1, Math.round((end + 1 - at) * rate))
    }
    count++
    at = nextFire(series, at)
  }
  return count
}

/**
 * The latest fire at or before `until`, where `from` is a fire at or before
 * `until`. Exact, in at most MAX_WALK plus about 2·log2(until − from) calls of
 * `next`: a short walk first, then a backward search.
 */
export function lastFireAtOrBefore (series: FireSeries, from: number, until: number): number {
  const end = series.endAt === null ? until : Math.min(until, series.endAt)
  const arithmetic = alignedLast(series, from, end)
  if (arithmetic !== null) return arithmetic.at
  const walked = walk(series, from, until)
  if (walked.done) return walked.at
  // Invariant: the first fire after `high` is after `until`. Step back in
  // doubling spans until the first fire after `low` is not; `walked.at`, a
  // known fire, bounds the search. Then bisect: fire times are whole ms, so at
  // high − low = 1 the first fire after `low` is the latest one up to `until`.
  let high = until
  let low = until
  for (let span = 1; ; span *= 2) {
    low = Math.max(until - span, walked.at - 1)
    if (isAtOrBefore(nextFire(series, low), until)) break
    high = low
  }
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (isAtOrBefore(nextFire(series, middle), until)) low = middle
    else high = middle
  }
  return nextFire(series, low) as number
}

function isAtOrBefore (fire: number | null, until: number): boolean {
  return fire !== null && fire <= until
}

/** Walks forward from the fire `from` while fires stay at or before `until`, at most MAX_WALK steps. */
function walk (series: FireSeries, from: number, until: number): { at: number, done: boolean } {
  let at = from
  for (let steps = 0; steps < MAX_WALK; steps++) {
    const next = nextFire(series, at)
    if (next === null || next > until) return { at, done: true }
    at = next
  }
  return { at, done: false }
}

/**
 * For a periodic trigger: the last fire at or before `end`, counted in periods
 * from the fire `first`, after checking with the trigger that it is a fire.
 * null when the trigger isn't periodic or the check fails (then callers walk).
 */
function alignedLast (series: FireSeries, first: number, end: number): { at: number, steps: number } | null {
  if (series.period === null || end < first) return null
  const steps = Math.floor((end - first) / series.period)
  const at = first + steps * series.period
  return nextFire(series, at - 1) === at ? { at, steps } : null
}
