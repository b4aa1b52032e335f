import t from 'tap'
import { createTrigger } from '../lib/triggers/trigger.js'
import { fires } from './helpers/fires.js'

const anchor = '2026-01-01T00:00:00Z'

t.test('fires at anchor + k·interval, k >= 1, without startAt', async (t) => {
  const trigger = createTrigger({ interval: 30_000 }, { anchor })
  t.equal(trigger.next(new Date(anchor))?.toISOString(), '2026-01-01T00:00:30.000Z', 'first fire one interval after the anchor')
  t.equal(trigger.next(new Date('2025-12-31T00:00:00Z'))?.toISOString(), '2026-01-01T00:00:30.000Z', 'the anchor itself is not a fire')
  t.equal(trigger.next(new Date('2026-01-01T00:00:30.000Z'))?.toISOString(), '2026-01-01T00:01:00.000Z', 'strictly after')
  t.equal(trigger.next(new Date('2026-01-01T00:00:44.999Z'))?.toISOString(), '2026-01-01T00:01:00.000Z', 'aligned to the anchor, whatever the argument')
})

t.test('no drift: the 10,000th fire is exactly 10,000 intervals after the anchor', async (t) => {
  const trigger = createTrigger({ interval: 333 }, { anchor })
  let at = new Date(anchor)
  for (let i = 0; i < 10_000; i++) at = trigger.next(at) as Date
  t.equal(at.getTime(), new Date(anchor).getTime() + 3_330_000)
})

t.test('immediate also fires at the anchor', async (t) => {
  const trigger = createTrigger({ interval: 1000, immediate: true }, { anchor })
  t.equal(trigger.next(new Date(new Date(anchor).getTime() - 1))?.toISOString(), '2026-01-01T00:00:00.000Z')
  t.equal(trigger.next(new Date(anchor))?.toISOString(), '2026-01-01T00:00:01.000Z')
  t.same(trigger.toJSON().immediate, true)
})

t.test('startAt anchors the schedule and fires itself', async (t) => {
  t.same(fires({ interval: { hours: 1 }, startAt: '2026-03-01T09:00:00Z' }, '2026-01-01T00:00:00Z', 2), ['2026-03-01T09:00:00.000Z', '2026-03-01T10:00:00.000Z'])
  t.same(fires({ interval: { hours: 1 }, startAt: '2026-03-01T09:00:00Z' }, '2026-03-01T11:30:00Z', 1), ['2026-03-01T12:00:00.000Z'], 'later on, still on the startAt grid')
})

t.test('endAt is inclusive', async (t) => {
  t.same(fires({ interval: 60_000, startAt: anchor, endAt: '2026-01-01T00:02:00Z' }, '2025-12-31T00:00:00Z', 5), ['2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', '2026-01-01T00:02:00.000Z'])
})

t.test('the three ways to give a length', async (t) => {
  const ms = (interval: unknown): unknown => createTrigger({ interval } as never, { anchor }).toJSON().intervalMs
  t.equal(ms(90_000), 90_000)
  t.equal(ms('PT1M30S'), 90_000)
  t.equal(ms('P1DT1H'), 90_000_000, 'a day is 24 hours')
  t.equal(ms('P2W'), 1_209_600_000)
  t.equal(ms({ minutes: 1, seconds: 30 }), 90_000)
  t.equal(ms({ hours: 1, minutes: 30 }), 5_400_000)
  t.equal(ms({ weeks: 1, days: 1, milliseconds: 5 }), 691_200_005)
  t.equal(ms({ hours: 0.1 }), 360_000, 'fractions of a unit')
})

t.test('intervals longer than 2^31-1 ms', async (t) => {
  const trigger = createTrigger({ interval: { days: 40 } }, { anchor })
  t.equal(trigger.next(new Date(anchor))?.toISOString(), '2026-02-10T00:00:00.000Z')
  t.equal(trigger.next(new Date('2026-02-10T00:00:00Z'))?.toISOString(), '2026-03-22T00:00:00.000Z')
})

t.test('without an anchor option the anchor is now', async (t) => {
  const before = Date.now()
  const trigger = createTrigger({ interval: 60_000 })
  const anchorMs = new Date(trigger.toJSON().anchor as string).getTime()
  t.ok(anchorMs >= before && anchorMs <= Date.now())
})

t.test('toJSON', async (t) => {
  t.same(createTrigger({ interval: { hours: 1, minutes: 30 }, jitter: 1000, endAt: '2027-01-01T00:00:00Z' }, { anchor }).toJSON(), {
    type: 'interval',
    description: 'every 1h 30m',
    intervalMs: 5_400_000,
    anchor: '2026-01-01T00:00:00.000Z',
    endAt: '2027-01-01T00:00:00.000Z',
    jitter: 1000
  })
  t.equal(createTrigger({ interval: 'P1DT0.5S' }, { anchor }).toJSON().description, 'every 1d 500ms')
  t.equal(createTrigger({ interval: 1 }, { anchor }).toJSON().description, 'every 1ms')
})
