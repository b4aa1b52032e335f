import t from 'tap'
import { MAX_WALK, countFires, fireSeries, lastFireAtOrBefore, nextFire } from '../lib/fires.js'
import { createTrigger } from '../lib/triggers/trigger.js'
import { listTrigger, periodicTrigger } from './helpers/scheduler.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')

t.test('fireSeries reads the period and endAt of an interval trigger', async (t) => {
  const series = fireSeries(createTrigger({ interval: 1000, endAt: '2026-01-02T00:00:00Z' }, { anchor: T0 }))
  t.equal(series.period, 1000)
  t.equal(series.endAt, Date.parse('2026-01-02T00:00:00Z'))
  const cron = fireSeries(createTrigger({ cron: '* * * * *' }, { timezone: 'UTC' }))
  t.equal(cron.period, null, 'cron has no fixed period')
  t.equal(cron.endAt, null)
  t.equal(fireSeries(periodicTrigger(T0, 10, { type: 'interval', intervalMs: -1 })).period, null, 'a nonsense period is ignored')
  t.equal(fireSeries(periodicTrigger(T0, 10, { endAt: 'not a date' })).endAt, null, 'an unparsable endAt is ignored')
})

t.test('interval fires are counted arithmetically, with endAt respected', async (t) => {
  const trigger = createTrigger({ interval: 1000 }, { anchor: T0 })
  const series = fireSeries(trigger)
  const year = 365 * 86_400_000
  t.equal(countFires(series, T0 + 1000, T0 + 1000), 0, 'an empty span')
  t.equal(countFires(series, T0 + 1000, T0 + 1001), 1)
  t.equal(countFires(series, T0 + 1000, T0 + year + 1), year / 1000, 'a year of seconds, at once')
  t.equal(lastFireAtOrBefore(series, T0 + 1000, T0 + year + 999), T0 + year)
  const bounded = fireSeries(createTrigger({ interval: 1000, endAt: T0 + 10_000 }, { anchor: T0 }))
  t.equal(countFires(bounded, T0 + 1000, T0 + year), 10, 'fires after endAt are not counted')
  t.equal(lastFireAtOrBefore(bounded, T0 + 1000, T0 + year), T0 + 10_000)
  t.equal(nextFire(bounded, T0 + 10_000), null)
})

t.test('a period the trigger contradicts falls back to walking', async (t) => {
  // Claims 7 ms, fires every 10 ms: the arithmetic check fails, the walk is exact.
  const series = fireSeries(periodicTrigger(T0, 10, { type: 'interval', intervalMs: 7 }))
  t.equal(countFires(series, T0, T0 + 100), 10)
  t.equal(lastFireAtOrBefore(series, T0, T0 + 95), T0 + 90)
})

t.test('other triggers are walked up to MAX_WALK fires, then extrapolated', async (t) => {
  const trigger = periodicTrigger(T0, 10)
  const series = fireSeries(trigger)
  t.equal(countFires(series, T0, T0 + 10 * 500), 500, 'exact below the bound')
  trigger.calls = 0
  t.equal(countFires(series, T0, T0 + 10 * 1_000_000), 1_000_000, 'extrapolated beyond it')
  t.ok(trigger.calls <= MAX_WALK + 1, `at most MAX_WALK steps (${trigger.calls})`)
  const ended = fireSeries(periodicTrigger(T0, 10, { endAt: new Date(T0 + 10 * 2000).toISOString() }))
  const estimate = countFires(ended, T0, T0 + 10 * 1_000_000)
  t.ok(Math.abs(estimate - 2001) <= 1, `the estimate stops at a known endAt (${estimate} for 2001)`)
})

t.test('the latest fire is found by a bounded walk, then by a doubling backward search', async (t) => {
  const trigger = periodicTrigger(T0, 10)
  const series = fireSeries(trigger)
  t.equal(lastFireAtOrBefore(series, T0, T0 + 10 * 300 + 5), T0 + 3000, 'walked')
  trigger.calls = 0
  t.equal(lastFireAtOrBefore(series, T0, T0 + 10 * 5_000_000 + 5), T0 + 50_000_000, 'searched')
  t.ok(trigger.calls < MAX_WALK + 100, `bounded (${trigger.calls} calls)`)
  // 1500 fires, then none: the search probes empty stretches before it finds the last one.
  const fires = Array.from({ length: 1500 }, (_, k) => T0 + k * 10)
  const finite = fireSeries(listTrigger(fires))
  t.equal(lastFireAtOrBefore(finite, T0, T0 + 10_000_000), T0 + 14_990)
  // Irregular gaps: bursts of 3 fires 1 ms apart every 1000 ms.
  const bursts = Array.from({ length: 3000 }, (_, k) => T0 + Math.floor(k / 3) * 1000 + (k % 3))
  t.equal(lastFireAtOrBefore(fireSeries(listTrigger(bursts)), T0, T0 + 999_500), T0 + 999_002)
  t.equal(lastFireAtOrBefore(fireSeries(listTrigger(bursts)), T0, T0 + 999_001), T0 + 999_001)
})
