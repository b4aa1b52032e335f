import t from 'tap'
import { createTrigger } from '../lib/triggers/trigger.js'
import { fires, firesBetween } from './helpers/fires.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/** Every `step` ms in (start, end], as ISO strings. */
function every (step: number, start: string, end: string): string[] {
  const out: string[] = []
  for (let at = new Date(start).getTime() + step; at <= new Date(end).getTime(); at += step) out.push(new Date(at).toISOString())
  return out
}

const iso = (ms: number): string => new Date(ms).toISOString()

interface Transition {
  zone: string
  /** UTC instant of the change. */
  at: string
  /** A fixed-time expression whose wall time falls in the gap / the repeated span. */
  fixed: string
  /** Expected fires of `fixed` around the change. */
  expected: string[]
  /** For overlaps: the instant of the second pass, where a fixed job must not fire again. */
  secondPass?: string
}

const springForward: Transition[] = [
  { zone: 'America/New_York', at: '2025-03-09T07:00:00Z', fixed: '30 2 * * *', expected: ['2025-03-09T07:00:00.000Z', '2025-03-10T06:30:00.000Z'] },
  { zone: 'Europe/London', at: '2025-03-30T01:00:00Z', fixed: '30 1 * * *', expected: ['2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z'] },
  { zone: 'Europe/Berlin', at: '2025-03-30T01:00:00Z', fixed: '30 2 * * *', expected: ['2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z'] },
  { zone: 'Australia/Sydney', at: '2025-10-04T16:00:00Z', fixed: '30 2 * * *', expected: ['2025-10-04T16:00:00.000Z', '2025-10-05T15:30:00.000Z'] },
  { zone: 'Australia/Lord_Howe', at: '2025-10-04T15:30:00Z', fixed: '15 2 * * *', expected: ['2025-10-04T15:30:00.000Z', '2025-10-05T15:15:00.000Z'] }
]

const fallBack: Transition[] = [
  { zone: 'America/New_York', at: '2025-11-02T06:00:00Z', fixed: '30 1 * * *', expected: ['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z'], secondPass: '2025-11-02T06:30:00Z' },
  { zone: 'Europe/London', at: '2025-10-26T01:00:00Z', fixed: '30 1 * * *', expected: ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z'], secondPass: '2025-10-26T01:30:00Z' },
  { zone: 'Europe/Berlin', at: '2025-10-26T01:00:00Z', fixed: '30 2 * * *', expected: ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z'], secondPass: '2025-10-26T01:30:00Z' },
  { zone: 'Australia/Sydney', at: '2025-04-05T16:00:00Z', fixed: '30 2 * * *', expected: ['2025-04-05T15:30:00.000Z', '2025-04-06T16:30:00.000Z'], secondPass: '2025-04-05T16:30:00Z' },
  { zone: 'Australia/Lord_Howe', at: '2025-04-05T15:00:00Z', fixed: '45 1 * * *', expected: ['2025-04-05T14:45:00.000Z', '2025-04-06T15:15:00.000Z'], secondPass: '2025-04-05T15:15:00Z' }
]

for (const { zone, at, fixed, expected } of springForward) {
  t.test(`spring forward in ${zone} (${at})`, async (t) => {
    const change = new Date(at).getTime()
    const dayBefore = iso(change - 20 * HOUR)
    t.same(fires(fixed, dayBefore, 2, zone), expected, `${fixed}: a fixed time in the gap fires once, at the first instant after it`)
    t.same(fires(fixed, iso(change - 1000), 1, zone), [expected[0]], 'found from just before the change')
    t.same(fires(fixed, at, 1, zone), [expected[1]], 'not again from the change itself')

    // Every-minute and every-15-minute jobs: the skipped wall times have no instants, so
    // the fires stay evenly spaced in UTC (all these offsets are multiples of 15 minutes).
    const from = iso(change - 3 * HOUR)
    const to = iso(change + 3 * HOUR)
    t.same(firesBetween('*/15 * * * *', from, to, zone), every(15 * MINUTE, from, to), 'every 15 minutes: no fire lost, none doubled')
    t.same(firesBetween('* * * * *', from, to, zone), every(MINUTE, from, to), 'every minute: no fire lost, none doubled')
  })
}

t.test('several fixed times in one gap collapse into one run', async (t) => {
  t.same(fires('0,15,30,45 2 * * *', '2025-03-08T12:00:00Z', 2, 'America/New_York'), ['2025-03-09T07:00:00.000Z', '2025-03-10T06:00:00.000Z'])
  t.same(fires('0 2,3 * * *', '2025-03-08T12:00:00Z', 3, 'America/New_York'), ['2025-03-09T07:00:00.000Z', '2025-03-10T06:00:00.000Z', '2025-03-10T07:00:00.000Z'], '02:00 (missing) and 03:00 share the instant 03:00 EDT')
  t.same(fires('0,10,20 2 * * *', '2025-10-04T12:00:00Z', 1, 'Australia/Lord_Howe'), ['2025-10-04T15:30:00.000Z'], 'a 30-minute gap')
})

t.test('wildcard jobs skip the gap', async (t) => {
  t.same(firesBetween('* 2 * * *', '2025-03-09T00:00:00Z', '2025-03-09T23:59:00Z', 'America/New_York'), [], 'no 02:xx on the day 02:00 does not exist')
  t.same(fires('0 * * * *', '2025-10-04T14:00:00Z', 2, 'Australia/Lord_Howe'), ['2025-10-04T14:30:00.000Z', '2025-10-04T16:00:00.000Z'], 'hourly across a 30-minute shift: 01:00 +10:30, then 03:00 +11')
  t.same(fires('0 */2 * * *', '2025-03-30T00:30:00Z', 2, 'Europe/Berlin'), ['2025-03-30T02:00:00.000Z', '2025-03-30T04:00:00.000Z'], 'every two hours: 02:00 is skipped, 04:00 CEST comes next')
})

for (const { zone, at, fixed, expected, secondPass } of fallBack) {
  t.test(`fall back in ${zone} (${at})`, async (t) => {
    const change = new Date(at).getTime()
    t.same(fires(fixed, iso(change - 20 * HOUR), 2, zone), expected, `${fixed}: a fixed time in the repeated span fires at its first occurrence only`)
    t.same(fires(fixed, iso(change + 1000), 1, zone), [expected[1]], 'a search starting inside the second pass finds no second fire')
    t.same(fires(fixed, secondPass as string, 1, zone), [expected[1]], 'nor from the second-pass instant itself')

    const from = iso(change - 3 * HOUR)
    const to = iso(change + 3 * HOUR)
    t.same(firesBetween('*/15 * * * *', from, to, zone), every(15 * MINUTE, from, to), 'every 15 minutes runs through both passes')
    t.same(firesBetween('* * * * *', from, to, zone), every(MINUTE, from, to), 'every minute runs through both passes')
  })
}

t.test('wildcard jobs fire in both passes of the repeated hour', async (t) => {
  const ny = firesBetween('* 1 * * *', '2025-11-02T04:00:00Z', '2025-11-02T08:00:00Z', 'America/New_York')
  t.equal(ny.length, 120, 'every minute of 01:xx, twice')
  t.equal(ny[0], '2025-11-02T05:00:00.000Z')
  t.equal(ny[119], '2025-11-02T06:59:00.000Z')
  t.same(fires('0 * * * *', '2025-04-05T13:10:00Z', 3, 'Australia/Lord_Howe'), ['2025-04-05T14:00:00.000Z', '2025-04-05T15:30:00.000Z', '2025-04-05T16:30:00.000Z'], 'hourly in Lord Howe: 01:00 +11, 02:00 +10:30 (01:00 never repeats)')
  t.same(fires('*/10 * * * * *', '2025-10-26T00:59:40Z', 4, 'Europe/London'), ['2025-10-26T00:59:50.000Z', '2025-10-26T01:00:00.000Z', '2025-10-26T01:00:10.000Z', '2025-10-26T01:00:20.000Z'], 'six fields across the change')
})

t.test('a fixed-time job started inside the second pass does not repeat a fire it already passed', async (t) => {
  // Scheduled at 01:45 EDT (first pass): 01:30 is behind; the second 01:30 (EST) must not fire.
  t.same(fires('30 1 * * *', '2025-11-02T05:45:00Z', 1, 'America/New_York'), ['2025-11-03T06:30:00.000Z'])
  // Scheduled at 01:10 EDT: 01:30 EDT is ahead and fires; only once.
  t.same(fires('30 1 * * *', '2025-11-02T05:10:00Z', 2, 'America/New_York'), ['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z'])
})

t.test('gaps longer than 3 hours are not caught up', async (t) => {
  // Samoa skipped 2011-12-30 entirely (UTC-10 → UTC+14 at local midnight).
  t.same(fires('0 12 * * *', '2011-12-29T00:00:00Z', 2, 'Pacific/Apia'), ['2011-12-29T22:00:00.000Z', '2011-12-30T22:00:00.000Z'])
})

t.test('a transition at midnight', async (t) => {
  // Santiago springs forward at 24:00 → 01:00 (2025-09-07); 00:30 does not exist that day.
  t.same(fires('30 0 * * *', '2025-09-06T12:00:00Z', 2, 'America/Santiago'), ['2025-09-07T04:00:00.000Z', '2025-09-08T03:30:00.000Z'])
  // It falls back at 24:00 → 23:00 (2025-04-06 00:00 -03 → 2025-04-05 23:00 -04): 23:30 on the 5th happens twice.
  t.same(fires('30 23 * * *', '2025-04-05T12:00:00Z', 2, 'America/Santiago'), ['2025-04-06T02:30:00.000Z', '2025-04-07T03:30:00.000Z'])
})

t.test('next strictly increases through a whole year in every zone', async (t) => {
  const zones = ['America/New_York', 'Europe/London', 'Europe/Berlin', 'Australia/Sydney', 'Australia/Lord_Howe', 'America/Santiago', 'Pacific/Chatham', 'UTC']
  const expressions = ['*/15 * * * *', '30 2 * * *', '30 1 * * *', '0 * * * *', '45 1,2 * * *', '0 0 * * *']
  for (const zone of zones) {
    for (const cron of expressions) {
      const trigger = createTrigger({ cron, timezone: zone })
      let at = new Date('2025-01-01T00:00:00Z')
      let steps = 0
      let ok = true
      for (let next = trigger.next(at); next !== null && next.getTime() < Date.UTC(2026, 0, 1); next = trigger.next(at)) {
        if (next.getTime() <= at.getTime()) ok = false
        at = next
        steps++
      }
      t.ok(ok && steps > 0, `${cron} in ${zone}: ${steps} fires, each after the last`)
    }
  }
})
