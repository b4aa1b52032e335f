// Property tests of the cron trigger: it is compared with an independent
// brute-force matcher (test/helpers/brute-cron.ts) across DST transitions, and
// with cron-parser's own iterator away from them.

import assert from 'node:assert/strict'
import t from 'tap'
import fc from 'fast-check'
import { DateTime } from 'luxon'
import { CronExpressionParser } from 'cron-parser'
import { createTrigger } from '../lib/triggers/trigger.js'
import type { Trigger } from '../lib/triggers/trigger.js'
import { bruteCanFire, bruteFires, expandList, DAY_NAMES, MONTH_NAMES } from './helpers/brute-cron.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const ZONES = [
  'UTC',
  'America/New_York',
  'Europe/London',
  'Europe/Berlin',
  'Australia/Sydney',
  'Australia/Lord_Howe', // 30-minute DST
  'Asia/Kolkata',
  'America/Sao_Paulo', // DST until 2019, changing at midnight
  'Pacific/Chatham', // +12:45 / +13:45, changing at 02:45
  'America/St_Johns', // -03:30; changed at 00:01 until 2011
  'America/Havana', // changes at midnight
  'Antarctica/Troll', // 2-hour DST
  'Pacific/Apia', // skipped 2011-12-30 entirely (a 24-hour gap)
  'America/Santiago', // changes at 24:00
  'Asia/Magadan', // turned back 2 hours in 2014
  'America/Caracas', // half-hour changes in 2007 and 2016
  'Africa/Casablanca' // DST suspended during Ramadan: four changes some years
]

const FIVE_FIELD_WINDOW = 2 * DAY
const SIX_FIELD_WINDOW = 3 * HOUR
// cron-parser's iterator is slow; its comparisons use shorter windows.
const PARSER_FIVE_FIELD_WINDOW = DAY
const PARSER_SIX_FIELD_WINDOW = HOUR

// ---------------------------------------------------------------------------
// Expression generators

interface FieldOptions {
  min: number
  max: number
  names?: string[]
  /** Values drawn more often (hours and minutes around DST changes). */
  favourites: number[]
  /** Relative weight of a bare `*`. */
  starWeight: number
  /** Also generate `?` (rarely). */
  question: boolean
  /** Also generate forms starting with `*` other than a bare `*` (a star with a step). */
  starSteps: boolean
}

function nameOf (value: number, names: string[] | undefined): string {
  if (names === MONTH_NAMES) return MONTH_NAMES[value - 1]
  if (names === DAY_NAMES && value < 7) return DAY_NAMES[value]
  return String(value)
}

function valueArb (o: FieldOptions): fc.Arbitrary<number> {
  return fc.oneof(fc.integer({ min: o.min, max: o.max }), fc.constantFrom(...o.favourites))
}

/** A value written as a number, or sometimes as a name (any case). */
function valueTextArb (o: FieldOptions): fc.Arbitrary<string> {
  return fc.tuple(valueArb(o), fc.nat(5)).map(([v, style]) => {
    if (o.names === undefined || style > 1) return String(v)
    const name = nameOf(v, o.names)
    return style === 0 ? name : name.toLowerCase()
  })
}

function rangeArb (o: FieldOptions): fc.Arbitrary<string> {
  return fc.tuple(valueArb(o), valueArb(o), fc.boolean()).map(([a, b, named]) => {
    const [low, high] = a <= b ? [a, b] : [b, a]
    return named && o.names !== undefined ? `${nameOf(low, o.names)}-${nameOf(high, o.names)}` : `${low}-${high}`
  })
}

function stepArb (o: FieldOptions): fc.Arbitrary<number> {
  return fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: o.max - o.min + 1 }))
}

function steppedArb (o: FieldOptions): fc.Arbitrary<string> {
  const forms: Array<fc.Arbitrary<string>> = [
    fc.tuple(rangeArb(o), stepArb(o)).map(([range, step]) => `${range}/${step}`),
    fc.tuple(valueArb(o), stepArb(o)).map(([start, step]) => `${start}/${step}`)
  ]
  if (o.starSteps) forms.push(stepArb(o).map((step) => `*/${step}`))
  return fc.oneof(...forms)
}

/** The values an item allows, day-of-week 7 folded onto 0 (cron-parser refuses duplicates). */
function itemValues (item: string, o: FieldOptions): number[] {
  const values = [...expandList(item, o.min, o.max, o.names)]
  return o.names === DAY_NAMES ? values.map((v) => v % 7) : values
}

function disjoint (items: string[], o: FieldOptions): boolean {
  const all = items.flatMap((item) => itemValues(item, o))
  return new Set(all).size === all.length
}

/** A field of numbers, names, ranges, steps and lists of them. */
function fieldArb (o: FieldOptions): fc.Arbitrary<string> {
  const item = fc.oneof(
    { weight: 3, arbitrary: valueTextArb(o) },
    { weight: 1, arbitrary: rangeArb(o) },
    { weight: 1, arbitrary: steppedArb(o) }
  )
  const list = fc.array(item, { minLength: 1, maxLength: 3 })
    .filter((items) => disjoint(items, o))
    .map((items) => items.join(','))
  const choices: Array<fc.WeightedArbitrary<string>> = [
    { weight: o.starWeight, arbitrary: fc.constant('*') },
    { weight: 4, arbitrary: list }
  ]
  if (o.starSteps) choices.push({ weight: 1, arbitrary: stepArb(o).map((step) => `*/${step}`) })
  if (o.question) choices.push({ weight: 1, arbitrary: fc.constant('?') })
  return fc.oneof(...choices)
}

interface ExpressionOptions {
  seconds: boolean
  /**
   * Only forms cron-parser's iterator reads like DESIGN.md rule 8: no
   * day-of-month or day-of-week starting with `*` other than a bare `*`
   * (cron-parser calls a star with a step restricted), and no `W`.
   */
  parserCompatible: boolean
}

function expressionArb ({ seconds, parserCompatible }: ExpressionOptions): fc.Arbitrary<string> {
  const starSteps = !parserCompatible
  const second = fieldArb({ min: 0, max: 59, favourites: [0, 30, 59], starWeight: 2, question: true, starSteps: true })
  const minute = fieldArb({ min: 0, max: 59, favourites: [0, 1, 15, 30, 45, 59], starWeight: 2, question: true, starSteps: true })
  const hour = fieldArb({ min: 0, max: 23, favourites: [0, 1, 2, 3, 23], starWeight: 2, question: true, starSteps: true })
  const month = fieldArb({ min: 1, max: 12, names: MONTH_NAMES, favourites: [2, 3, 4, 9, 10, 11, 12], starWeight: 8, question: false, starSteps: true })
  const domPlain = fieldArb({ min: 1, max: 31, favourites: [1, 8, 9, 28, 29, 30, 31], starWeight: 6, question: true, starSteps })
  const domSpecial = fc.oneof(
    fc.constant('L'),
    fc.integer({ min: 1, max: 31 }).map((d) => `L,${d}`),
    ...(parserCompatible
      ? []
      : [fc.integer({ min: 1, max: 28 }).map((d) => `${d}W`), fc.constant('LW'), fc.integer({ min: 1, max: 28 }).map((d) => `LW,${d}W`)])
  )
  const dom = fc.oneof({ weight: 6, arbitrary: domPlain }, { weight: 1, arbitrary: domSpecial })
  const dowPlain = fieldArb({ min: 0, max: 7, names: DAY_NAMES, favourites: [0, 6, 7], starWeight: 6, question: true, starSteps })
  const weekday = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean())
    .map(([d, named]) => named && d < 7 ? DAY_NAMES[d] : String(d))
  const dowSpecial = fc.oneof(
    fc.integer({ min: 0, max: 7 }).map((d) => `${d}L`),
    fc.tuple(weekday, fc.integer({ min: 1, max: 5 })).map(([d, k]) => `${d}#${k}`)
  )
  const dow = fc.oneof({ weight: 6, arbitrary: dowPlain }, { weight: 1, arbitrary: dowSpecial })
  const fields = seconds
    ? fc.tuple(second, minute, hour, dom, month, dow).map((parts) => parts.join(' '))
    : fc.tuple(minute, hour, dom, month, dow).map((parts) => parts.join(' '))
  if (seconds) return fields
  return fc.oneof(
    { weight: 12, arbitrary: fields },
    { weight: 1, arbitrary: fc.constantFrom('@hourly', '@daily', '@weekly', '@monthly', '@yearly') }
  )
}

// ---------------------------------------------------------------------------
// Start instants

const YEAR_2000 = Date.UTC(2000, 0, 1)
const YEAR_2040 = Date.UTC(2040, 0, 1)

function offsetAt (ms: number, zone: string): number {
  return DateTime.fromMillis(ms, { zone }).offset
}

const transitionCache = new Map<string, number[]>()

/** The instants in `year` at which `zone` changes its UTC offset (found with luxon). */
function transitionsIn (zone: string, year: number): number[] {
  const key = `${zone} ${year}`
  const cached = transitionCache.get(key)
  if (cached !== undefined) return cached
  const found: number[] = []
  const end = Date.UTC(year + 1, 0, 1)
  for (let day = Date.UTC(year, 0, 1); day < end; day += DAY) {
    if (offsetAt(day, zone) === offsetAt(day + DAY, zone)) continue
    // Bisect for the first instant with the new offset.
    let low = day
    let high = day + DAY
    const before = offsetAt(low, zone)
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2)
      if (offsetAt(mid, zone) === before) low = mid
      else high = mid
    }
    found.push(high)
  }
  transitionCache.set(key, found)
  return found
}

const YEAR_ARB = fc.oneof(fc.integer({ min: 2000, max: 2039 }), fc.constantFrom(2011, 2025))

/** One of the zone's offset changes in `year`, else in 2011 or 2025, else null (no DST at all). */
function pickTransition (zone: string, year: number, which: number): number | null {
  for (const y of [year, 2011, 2025]) {
    const transitions = transitionsIn(zone, y)
    if (transitions.length > 0) return transitions[which % transitions.length]
  }
  return null
}

/** Sometimes a whole minute, sometimes with sub-minute noise. */
function withNoise (start: number, noise: number): number {
  return noise === 0 ? Math.floor(start / MINUTE) * MINUTE : start + noise
}

const NOISE_ARB = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: MINUTE - 1 }))

/**
 * A start instant for `zone`: uniform in 2000–2040, or shortly before one of
 * the zone's offset changes, so that a window of `window` ms spans it.
 */
function startArb (zone: string, window: number): fc.Arbitrary<number> {
  const uniform = fc.integer({ min: YEAR_2000, max: YEAR_2040 })
  const nearTransition = fc.record({
    year: YEAR_ARB,
    which: fc.nat(),
    before: fc.integer({ min: 0, max: window - HOUR }),
    noise: NOISE_ARB
  }).map(({ year, which, before, noise }) => {
    const anchor = pickTransition(zone, year, which) ?? Date.UTC(year, 2, 30)
    return withNoise(anchor - before, noise)
  })
  return fc.oneof({ weight: 1, arbitrary: uniform }, { weight: 3, arbitrary: nearTransition })
}

// ---------------------------------------------------------------------------
// Helpers

const iso = (ms: number): string => new Date(ms).toISOString()

/** Fires of `trigger` in (from, to], by iterating next; at most `limit` of them. */
function triggerFires (trigger: Trigger, from: number, to: number, limit: number): number[] {
  const fires: number[] = []
  let after = from
  while (fires.length <= limit) {
    const fire = trigger.next(new Date(after))
    if (fire === null || fire.getTime() > to) break
    fires.push(fire.getTime())
    after = fire.getTime()
  }
  return fires
}

interface Case {
  expression: string
  zone: string
  start: number
}

/** A random expression in a random zone, from a random start (often near a DST change). */
function randomCaseArb (options: ExpressionOptions, window: number): fc.Arbitrary<Case> {
  return fc.tuple(expressionArb(options), fc.constantFrom(...ZONES))
    .filter(([expression]) => bruteCanFire(expression))
    .chain(([expression, zone]) => startArb(zone, window).map((start) => ({ expression, zone, start })))
}

const DST_ZONES = ZONES.filter((zone) => zone !== 'UTC' && zone !== 'Asia/Kolkata')

/**
 * An expression aimed at one DST change: its hour field lists (some of) the
 * wall hours the change skips or repeats, its minutes favour the minutes
 * around it, its day fields are often `*` or that day, and the window starts
 * up to `window` − 1 h before the change or up to 1 h after it (inside a
 * repeated hour, after the first pass).
 */
function targetedCaseArb (seconds: boolean, window: number): fc.Arbitrary<Case> {
  return fc.record({ zone: fc.constantFrom(...DST_ZONES), year: YEAR_ARB, which: fc.nat() }).chain(({ zone, year, which }) => {
    const at = pickTransition(zone, year, which) ?? Date.UTC(year, 2, 30)
    const before = DateTime.fromMillis(at - 1, { zone })
    const after = DateTime.fromMillis(at, { zone })
    const springForward = after.offset > before.offset
    const hours: number[] = []
    for (let h = springForward ? before.hour : after.hour; ; h = (h + 1) % 24) {
      hours.push(h)
      if (h === (springForward ? after.hour : before.hour)) break
    }
    const wildHour = fieldArb({ min: 0, max: 23, favourites: hours, starWeight: 1, question: true, starSteps: true })
    const hour = fc.oneof(
      { weight: 4, arbitrary: fc.subarray(hours, { minLength: 1 }).map((list) => list.join(',')) },
      { weight: 2, arbitrary: wildHour }
    )
    const minuteFavourites = [0, 59, 30, 45, before.minute, (before.minute + 1) % 60, after.minute]
    const minute = fieldArb({ min: 0, max: 59, favourites: minuteFavourites, starWeight: 1, question: true, starSteps: true })
    const second = fieldArb({ min: 0, max: 59, favourites: [0, 59, before.second, after.second], starWeight: 2, question: true, starSteps: true })
    const days = [before.day, after.day]
    const dom = fc.oneof(
      { weight: 4, arbitrary: fc.constant('*') },
      { weight: 2, arbitrary: fc.constantFrom(...days).map(String) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 31 }).map((d) => `*/${d}`) },
      { weight: 1, arbitrary: fieldArb({ min: 1, max: 31, favourites: days, starWeight: 1, question: true, starSteps: true }) }
    )
    const month = fc.oneof(fc.constant('*'), fc.constant(String(after.month)))
    const weekdays = [before.weekday % 7, after.weekday % 7]
    const dow = fc.oneof(
      { weight: 4, arbitrary: fc.constant('*') },
      { weight: 2, arbitrary: fc.constantFrom(...weekdays).map(String) },
      { weight: 1, arbitrary: fieldArb({ min: 0, max: 7, names: DAY_NAMES, favourites: weekdays, starWeight: 1, question: true, starSteps: true }) }
    )
    const time = seconds ? fc.tuple(second, minute, hour) : fc.tuple(minute, hour)
    return fc.record({
      time,
      days: fc.tuple(dom, month, dow),
      // Often close to the change, so that dense (every-second) jobs reach it within MAX_COMPARED_FIRES.
      offset: fc.oneof(fc.integer({ min: -HOUR, max: window - HOUR }), fc.integer({ min: -10 * MINUTE, max: 8 * MINUTE })),
      noise: NOISE_ARB
    }).map(({ time, days, offset, noise }) => ({
      expression: [...time, ...days].join(' '),
      zone,
      start: withNoise(at - offset, noise)
    }))
  }).filter((c) => bruteCanFire(c.expression))
}

function caseArb (seconds: boolean, window: number): fc.Arbitrary<Case> {
  return fc.oneof(
    { weight: 1, arbitrary: randomCaseArb({ seconds, parserCompatible: false }, window) },
    { weight: 3, arbitrary: targetedCaseArb(seconds, window) }
  )
}

// CRON_PROPERTY_RUNS=10 multiplies every run count (a longer hunt);
// CRON_PROPERTY_SEED=<seed> replays the seed a failure report printed.
const RUNS_SCALE = Number(process.env.CRON_PROPERTY_RUNS ?? 1)
const SEED = process.env.CRON_PROPERTY_SEED === undefined ? undefined : Number(process.env.CRON_PROPERTY_SEED)

/**
 * Runs a property; undefined when it holds, else fast-check's report (the
 * shrunk counterexample, the seed and the path to replay it).
 */
function counterexample<T> (property: fc.IProperty<T>, numRuns: number): string | undefined {
  const details = fc.check(property, { numRuns: Math.ceil(numRuns * RUNS_SCALE), ...(SEED === undefined ? {} : { seed: SEED }) })
  if (!details.failed) return undefined
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
  return `${fc.defaultReportMessage(details)}\n${error}`
}

/** Throws, naming the case and the first difference, unless the two lists of fires are equal. */
function assertSameFires (actual: number[], expected: number[], c: Case, reference: string): void {
  const length = Math.max(actual.length, expected.length)
  for (let i = 0; i < length; i++) {
    if (actual[i] === expected[i]) continue
    const around = (list: number[]): string => list.slice(Math.max(0, i - 2), i + 3).map(iso).join(', ')
    throw new Error(`'${c.expression}' in ${c.zone} after ${iso(c.start)}: fire #${i} is ` +
      `${actual[i] === undefined ? 'missing' : iso(actual[i])}, ${reference} says ` +
      `${expected[i] === undefined ? 'none' : iso(expected[i])} (${actual.length} vs ${expected.length} fires)\n` +
      `  trigger:   ${around(actual)}\n  ${reference}: ${around(expected)}`)
  }
}

// ---------------------------------------------------------------------------
// The reference matcher itself, on cases DESIGN.md spells out

t.test('brute-force reference (and the trigger) on hand-checked cases', async (t) => {
  // The reference's fires; the trigger must list the same ones.
  const fires = (expression: string, zone: string, from: string, to: string): string[] => {
    const expected = bruteFires(expression, zone, Date.parse(from), Date.parse(to)).map(iso)
    const trigger = createTrigger({ cron: expression, timezone: zone })
    t.same(triggerFires(trigger, Date.parse(from), Date.parse(to), 100).map(iso), expected, `trigger: '${expression}' in ${zone} after ${from}`)
    return expected
  }

  t.same(fires('30 2 * * *', 'America/New_York', '2025-03-08T12:00:00Z', '2025-03-10T12:00:00Z'),
    ['2025-03-09T07:00:00.000Z', '2025-03-10T06:30:00.000Z'], 'fixed-time 02:30 in the gap fires at 03:00 EDT')
  t.same(fires('0,15,30,45 2 * * *', 'America/New_York', '2025-03-09T00:00:00Z', '2025-03-09T12:00:00Z'),
    ['2025-03-09T07:00:00.000Z'], 'several missing times collapse into one fire')
  t.same(fires('*/30 2 * * *', 'America/New_York', '2025-03-09T00:00:00Z', '2025-03-09T12:00:00Z'),
    [], 'a wildcard job skips the gap')
  t.same(fires('30 1 * * *', 'America/New_York', '2025-11-02T00:00:00Z', '2025-11-02T12:00:00Z'),
    ['2025-11-02T05:30:00.000Z'], 'fixed-time fires at the first occurrence only')
  t.same(fires('*/30 1 * * *', 'America/New_York', '2025-11-02T00:00:00Z', '2025-11-02T12:00:00Z'),
    ['2025-11-02T05:00:00.000Z', '2025-11-02T05:30:00.000Z', '2025-11-02T06:00:00.000Z', '2025-11-02T06:30:00.000Z'],
    'a wildcard job fires in both passes')
  t.same(fires('30 1 * * *', 'America/New_York', '2025-11-02T06:00:00Z', '2025-11-02T12:00:00Z'),
    [], 'the second occurrence stays silent when the window starts between the two')
  t.same(fires('30 30 2 * * *', 'America/New_York', '2025-03-09T06:00:00Z', '2025-03-09T08:00:00Z'),
    ['2025-03-09T07:00:00.000Z'], 'six fields: 02:30:30 in the gap fires at 03:00:00 EDT')
  t.same(fires('0 0 * * *', 'America/Sao_Paulo', '2018-11-03T12:00:00Z', '2018-11-04T12:00:00Z'),
    ['2018-11-04T03:00:00.000Z'], 'midnight in a midnight gap fires at 01:00 -02')
  t.same(fires('0 12 * * *', 'Pacific/Apia', '2011-12-29T00:00:00Z', '2011-12-31T00:00:00Z'),
    ['2011-12-29T22:00:00.000Z', '2011-12-30T22:00:00.000Z'], 'a 24-hour gap is not caught up: noon of Dec 29 (-10), then of Dec 31 (+14)')
  t.same(fires('0 0 13 * FRI', 'UTC', '2025-06-01T00:00:00Z', '2025-07-01T00:00:00Z'),
    ['2025-06-06', '2025-06-13', '2025-06-20', '2025-06-27'].map((d) => `${d}T00:00:00.000Z`),
    'both day fields restricted: either matches')
  t.same(fires('0 0 */2 * 5', 'UTC', '2025-06-01T00:00:00Z', '2025-07-01T00:00:00Z'),
    ['2025-06-13', '2025-06-27'].map((d) => `${d}T00:00:00.000Z`), 'day-of-month starting with *: both must match')
  t.same(fires('0 0 L * 5L', 'UTC', '2025-06-01T00:00:00Z', '2025-07-01T00:00:00Z'),
    ['2025-06-27', '2025-06-30'].map((d) => `${d}T00:00:00.000Z`), 'L and nL')
  t.same(fires('0 0 * * 1#2', 'UTC', '2025-06-01T00:00:00Z', '2025-08-01T00:00:00Z'),
    ['2025-06-09', '2025-07-14'].map((d) => `${d}T00:00:00.000Z`), 'n#k')
  t.same(fires('0 0 1W,LW * *', 'UTC', '2025-05-31T00:00:00Z', '2025-06-30T12:00:00Z'),
    ['2025-06-02', '2025-06-30'].map((d) => `${d}T00:00:00.000Z`), 'W and LW')
  t.same(fires('0 0 * * 7', 'UTC', '2025-06-01T00:00:00Z', '2025-06-09T00:00:00Z'),
    ['2025-06-08T00:00:00.000Z'], '7 is Sunday')
  t.equal(bruteCanFire('0 0 30 2 *'), false, 'February 30th never comes')
  t.equal(bruteCanFire('0 0 29 2 *'), true, 'February 29th does')
})

// ---------------------------------------------------------------------------
// (a) the trigger against the brute-force reference, across DST transitions

/**
 * At most this many fires are compared per case: when the window holds more,
 * it is cut just after the last of them. Every-second jobs would otherwise
 * make a case take seconds: inside a repeated hour each next() of such a job
 * costs milliseconds.
 */
const MAX_COMPARED_FIRES = 600

function agreesWithBrute (c: Case, window: number): void {
  let end = c.start + window
  let expected = bruteFires(c.expression, c.zone, c.start, end)
  if (expected.length > MAX_COMPARED_FIRES) {
    expected = expected.slice(0, MAX_COMPARED_FIRES)
    end = expected[expected.length - 1]
  }
  const trigger = createTrigger({ cron: c.expression, timezone: c.zone })
  const actual = triggerFires(trigger, c.start, end, expected.length + 5)
  assertSameFires(actual, expected, c, 'brute')
}

t.test('(a) 5-field: next() yields exactly the brute-force fires over 2 days', async (t) => {
  t.equal(counterexample(fc.property(caseArb(false, FIVE_FIELD_WINDOW), (c) => {
    agreesWithBrute(c, FIVE_FIELD_WINDOW)
  }), 40), undefined, 'trigger matches the reference')
})

t.test('(a) 6-field: next() yields exactly the brute-force fires over 3 hours', async (t) => {
  t.equal(counterexample(fc.property(caseArb(true, SIX_FIELD_WINDOW), (c) => {
    agreesWithBrute(c, SIX_FIELD_WINDOW)
  }), 40), undefined, 'trigger matches the reference')
})

t.test('(a) createTrigger refuses exactly the expressions that can never fire', async (t) => {
  t.equal(counterexample(fc.property(expressionArb({ seconds: false, parserCompatible: false }), (expression) => {
    let refused = false
    try {
      createTrigger({ cron: expression, timezone: 'UTC' })
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'FST_SCHEDULER_INVALID_TRIGGER')
      refused = true
    }
    assert.equal(refused, !bruteCanFire(expression), `refused: ${refused}`)
  }), 300), undefined, 'refusal matches the reference')
})

// ---------------------------------------------------------------------------
// (b) the trigger against cron-parser's iterator, away from DST transitions

/** Whether the offset is the same at `from`, `to`, and every hour in between. */
function offsetSteady (zone: string, from: number, to: number): boolean {
  const offset = offsetAt(from, zone)
  for (let ms = from; ms < to; ms += HOUR) {
    if (offsetAt(ms, zone) !== offset) return false
  }
  return offsetAt(to, zone) === offset
}

function cronParserFires (expression: string, zone: string, from: number, to: number): number[] {
  const iterator = CronExpressionParser.parse(expression, { currentDate: new Date(from), tz: zone })
  const fires: number[] = []
  for (;;) {
    const fire = iterator.next().getTime()
    if (fire > to) return fires
    fires.push(fire)
  }
}

function agreesWithCronParser (seconds: boolean, window: number) {
  const arb = fc.record({
    expression: expressionArb({ seconds, parserCompatible: true }).filter(bruteCanFire),
    zone: fc.constantFrom(...ZONES),
    start: fc.integer({ min: YEAR_2000, max: YEAR_2040 })
  })
  return fc.property(arb, ({ expression, zone, start }) => {
    const end = start + window
    // Away from DST: no offset change within a day either side of the window.
    fc.pre(offsetSteady(zone, start - DAY, end + DAY))
    const expected = cronParserFires(expression, zone, start, end)
    const actual = triggerFires(createTrigger({ cron: expression, timezone: zone }), start, end, expected.length + 5)
    assertSameFires(actual, expected, { expression, zone, start }, 'cron-parser')
  })
}

t.test('(b) 5-field: next() agrees with cron-parser over a day away from DST changes', async (t) => {
  t.equal(counterexample(agreesWithCronParser(false, PARSER_FIVE_FIELD_WINDOW), 40), undefined, 'trigger matches cron-parser')
})

t.test('(b) 6-field: next() agrees with cron-parser over an hour away from DST changes', async (t) => {
  t.equal(counterexample(agreesWithCronParser(true, PARSER_SIX_FIELD_WINDOW), 30), undefined, 'trigger matches cron-parser')
})

// ---------------------------------------------------------------------------
// (c) next() moves forward, and nothing fires between consecutive fires

t.test('(c) next() is strictly increasing, strictly after its argument, and skips no fire', async (t) => {
  const arb = fc.record({
    c: fc.boolean().chain((seconds) => caseArb(seconds, 6 * HOUR)),
    // Where to probe between consecutive fires, as a fraction of the interval.
    probes: fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 20, maxLength: 20 })
  })
  t.equal(counterexample(fc.property(arb, ({ c: { expression, zone, start }, probes }) => {
    const trigger = createTrigger({ cron: expression, timezone: zone })
    let after = start
    for (const probe of probes) {
      const fire = trigger.next(new Date(after))
      assert.ok(fire !== null, `a firing expression returns a fire after ${iso(after)}`)
      assert.ok(fire.getTime() > after, `next(${iso(after)}) = ${iso(fire.getTime())} is after its argument`)
      // Any instant in [after, fire) has the same next fire: none was skipped.
      const between = after + Math.floor(probe * (fire.getTime() - after))
      assert.equal(iso(trigger.next(new Date(between))!.getTime()), iso(fire.getTime()), `next(${iso(between)})`)
      assert.equal(iso(trigger.next(new Date(fire.getTime() - 1))!.getTime()), iso(fire.getTime()), 'next(fire - 1ms)')
      after = fire.getTime()
    }
  }), 60), undefined, 'next() moves forward without skipping')
})
