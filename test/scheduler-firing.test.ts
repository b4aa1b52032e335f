import t from 'tap'
import { harness, iso, listTrigger } from './helpers/scheduler.js'
import { ManualClock } from './helpers/fake-clock.js'
import type { JobContext } from '../lib/job.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

t.test('an interval job fires at anchor + k·interval over a simulated day', async (t) => {
  const { scheduler, clock } = harness()
  const anchor = clock.now()
  const seen: Array<{ scheduledAt: number, startedAt: number }> = []
  scheduler.addJob({ id: 'hourly', trigger: { interval: { hours: 1 } }, handler: (ctx) => { seen.push({ scheduledAt: ctx.scheduledAt.getTime(), startedAt: ctx.startedAt.getTime() }) } })
  t.equal(scheduler.getJob('hourly')?.nextRunAt, null, 'not scheduled before start')
  scheduler.start()
  t.equal(scheduler.getJob('hourly')?.nextRunAt, iso(anchor + HOUR), 'first fire one interval after start')
  await clock.tick(HOUR - 1)
  t.equal(seen.length, 0, 'nothing early')
  await clock.tick(1 + DAY - HOUR)
  t.equal(seen.length, 24)
  t.same(seen.map((s) => s.scheduledAt), Array.from({ length: 24 }, (_, k) => anchor + (k + 1) * HOUR))
  t.ok(seen.every((s) => s.startedAt === s.scheduledAt), 'each run starts at its due time')
  t.equal(scheduler.getJob('hourly')?.stats.runs, 24)
})

t.test('no drift over 10,000 interval fires on a late-waking loop', async (t) => {
  const { scheduler, clock } = harness()
  clock.latency = 7
  const anchor = clock.now()
  const scheduled: number[] = []
  const lateness: number[] = []
  scheduler.addJob({ id: 'tick', trigger: { interval: 1000 }, handler: (ctx) => { scheduled.push(ctx.scheduledAt.getTime()); lateness.push(ctx.startedAt.getTime() - ctx.scheduledAt.getTime()) } })
  scheduler.start()
  await clock.tick(10_000 * 1000 + 500)
  t.equal(scheduled.length, 10_000)
  t.equal(scheduled.at(-1), anchor + 10_000 * 1000, 'the 10,000th fire is exactly 10,000 intervals after the anchor')
  t.ok(scheduled.every((at, k) => at === anchor + (k + 1) * 1000), 'every fire on the grid')
  t.ok(lateness.every((ms) => ms === 7), 'each run is only as late as its own wake')
})

t.test('a cron job fires at the right instants over simulated weeks', async (t) => {
  const { scheduler, clock } = harness({ timezone: 'Europe/Berlin', start: '2026-01-04T12:00:00Z' })
  const fired: string[] = []
  const status = scheduler.addJob({ id: 'report', trigger: { cron: '0 6 * * 1-5' }, handler: (ctx) => { fired.push(iso(ctx.scheduledAt)) } })
  t.equal(status.trigger.type, 'cron')
  scheduler.start()
  await clock.tickTo('2026-01-18T00:00:00Z')
  t.same(fired, [
    '2026-01-05T05:00:00.000Z', '2026-01-06T05:00:00.000Z', '2026-01-07T05:00:00.000Z', '2026-01-08T05:00:00.000Z', '2026-01-09T05:00:00.000Z',
    '2026-01-12T05:00:00.000Z', '2026-01-13T05:00:00.000Z', '2026-01-14T05:00:00.000Z', '2026-01-15T05:00:00.000Z', '2026-01-16T05:00:00.000Z'
  ], 'weekdays at 06:00 Berlin (05:00Z in winter)')
})

t.test('cron across DST changes (America/New_York, 2026)', async (t) => {
  const { scheduler, clock } = harness({ timezone: 'America/New_York', start: '2026-03-07T12:00:00Z' })
  const daily: string[] = []
  const hourly: string[] = []
  scheduler.addJob({ id: 'fixed', trigger: { cron: '30 2 * * *' }, handler: (ctx) => { daily.push(iso(ctx.scheduledAt)) } })
  scheduler.addJob({ id: 'wild', trigger: { cron: '0 * * * *', timezone: 'America/New_York' }, handler: (ctx) => { hourly.push(iso(ctx.scheduledAt)) } })
  scheduler.start()
  await clock.tickTo('2026-03-10T00:00:00Z')
  t.same(daily, [
    '2026-03-08T07:00:00.000Z', // 02:30 doesn't exist on the 8th: once, at 03:00 EDT
    '2026-03-09T06:30:00.000Z' // 02:30 EDT
  ], 'spring forward: the fixed-time job runs once right after the gap')
  const march8 = hourly.filter((at) => at >= '2026-03-08T05:00:00.000Z' && at < '2026-03-09T04:00:00.000Z')
  t.equal(march8.length, 23, 'the wildcard job skips the missing hour: 23 runs on a 23-hour day')
})

t.test('cron across the fall-back change (America/New_York, 2026)', async (t) => {
  const { scheduler, clock } = harness({ timezone: 'America/New_York', start: '2026-11-01T04:00:00Z' }) // 00:00 EDT
  const daily: string[] = []
  const hourly: string[] = []
  scheduler.addJob({ id: 'fixed', trigger: { cron: '30 1 * * *' }, handler: (ctx) => { daily.push(iso(ctx.scheduledAt)) } })
  scheduler.addJob({ id: 'wild', trigger: { cron: '0 * * * *' }, handler: (ctx) => { hourly.push(iso(ctx.scheduledAt)) } })
  scheduler.start()
  await clock.tickTo('2026-11-02T05:00:00Z') // 2026-11-02 00:00 EST
  t.same(daily, ['2026-11-01T05:30:00.000Z'], 'fall back: 01:30 occurs twice; the fixed-time job fires at the first (EDT) only')
  t.equal(hourly.length, 25, 'the wildcard job runs in both passes of the repeated hour: 25 runs')
  t.ok(hourly.includes('2026-11-01T05:00:00.000Z') && hourly.includes('2026-11-01T06:00:00.000Z'), '01:00 EDT and 01:00 EST')
})

t.test('a 40-day at job neither fires early nor arms a wait beyond the cap', async (t) => {
  const { scheduler, clock } = harness()
  const at = clock.now() + 40 * DAY
  let ran = 0
  scheduler.addJob({ id: 'later', trigger: { at }, handler: () => { ran++ } })
  scheduler.start()
  await clock.tick(40 * DAY - 1)
  t.equal(ran, 0, 'not a millisecond early')
  t.ok(clock.delays.every((ms) => ms <= 60_000), 'every wait at most 60 s (setTimeout overflows at 2^31-1 ms)')
  t.ok(clock.delays.length >= 40 * 24 * 60, 're-armed about once a minute')
  await clock.tick(1)
  t.equal(ran, 1)
  const status = scheduler.getJob('later')
  t.equal(status?.nextRunAt, null, 'an exhausted trigger shows nextRunAt null')
  t.equal(clock.pending, 0, 'and leaves the heap: no timer armed')
})

t.test('one timer for all jobs, re-armed when the earliest due time changes', async (t) => {
  const { scheduler, clock } = harness()
  for (let i = 0; i < 1000; i++) scheduler.addJob({ id: `job${i}`, trigger: { interval: 10_000 + i }, handler: () => {} })
  scheduler.start()
  t.equal(clock.pending, 1, 'a thousand jobs, one timer')
  t.same(clock.armed, [10_000])
  scheduler.addJob({ id: 'sooner', trigger: { interval: 500 }, handler: () => {} })
  t.same(clock.armed, [500], 're-armed for the new earliest fire')
  scheduler.removeJob('sooner')
  t.same(clock.armed, [10_000], 're-armed when it goes')
  scheduler.pauseJob('job0')
  t.same(clock.armed, [10_001], 'pausing the earliest re-arms')
  scheduler.addJob({ id: 'later', trigger: { interval: 20_000 }, handler: () => {} })
  t.equal(clock.pending, 1, 'a later job leaves the timer alone')
})

t.test('a timer that wakes early fires nothing and re-arms', async (t) => {
  const clock = new ManualClock()
  const { scheduler } = harness({ clock })
  let ran = 0
  scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: () => { ran++ } })
  scheduler.start()
  // Simulate an early wake: the clock reads 10 ms before the due time.
  const realNow = clock.now.bind(clock)
  clock.now = () => realNow() - 10
  await clock.tick(1000)
  t.equal(ran, 0, 'compared with the absolute due time, nothing is due yet')
  t.same(clock.armed, [10])
  clock.now = realNow
  await clock.tick(10)
  t.equal(ran, 1)
})

t.test('immediate interval jobs fire at the anchor; addJob while running anchors then', async (t) => {
  const { scheduler, clock } = harness()
  const fired: number[] = []
  const start = clock.now()
  scheduler.addJob({ id: 'now', trigger: { interval: 1000, immediate: true }, handler: (ctx) => { fired.push(ctx.scheduledAt.getTime() - start) } })
  scheduler.start()
  t.equal(scheduler.getJob('now')?.nextRunAt, iso(start))
  await clock.tick(2500)
  t.same(fired, [0, 1000, 2000])
  fired.length = 0
  scheduler.addJob({ id: 'late', trigger: { interval: 1000 }, handler: (ctx) => { fired.push(ctx.scheduledAt.getTime() - start) } })
  await clock.tick(1000)
  t.same(fired, [3000, 3500], 'the added job is anchored at its add time (2500)')
})

t.test('jitter delays each fire by a random 0..jitter ms; scheduledAt stays the nominal time', async (t) => {
  const { scheduler, clock } = harness()
  const random = Math.random
  t.teardown(() => { Math.random = random })
  const draws = [0.5, 0]
  Math.random = () => draws.shift() ?? 0
  const runs: Array<{ scheduledAt: number, startedAt: number }> = []
  const start = clock.now()
  scheduler.addJob({ id: 'j', trigger: { interval: 10_000, jitter: 2000 }, handler: (ctx) => { runs.push({ scheduledAt: ctx.scheduledAt.getTime() - start, startedAt: ctx.startedAt.getTime() - start }) } })
  scheduler.start()
  await clock.tick(10_999)
  t.equal(runs.length, 0)
  await clock.tick(1)
  t.same(runs, [{ scheduledAt: 10_000, startedAt: 11_000 }])
  await clock.tick(9000)
  t.same(runs[1], { scheduledAt: 20_000, startedAt: 20_000 }, 'a fresh draw per fire')
})

t.test('a custom Trigger object is accepted', async (t) => {
  const { scheduler, clock } = harness()
  const start = clock.now()
  const trigger = listTrigger([start + 10, start + 30], { description: 'two shots' })
  const fired: number[] = []
  const status = scheduler.addJob({ id: 'custom', trigger, handler: (ctx: JobContext) => { fired.push(ctx.scheduledAt.getTime() - start) } })
  t.same(status.trigger, { type: 'date', description: 'two shots' })
  scheduler.start()
  await clock.tick(100)
  t.same(fired, [10, 30])
  t.equal(scheduler.getJob('custom')?.nextRunAt, null)
})

t.test('a handler that re-queues its own job at now waits for the next wake', async (t) => {
  const { scheduler, clock } = harness()
  let runs = 0
  scheduler.addJob({
    id: 'again',
    trigger: { interval: 1000 },
    handler: () => {
      runs++
      if (runs < 5) scheduler.rescheduleJob('again', { interval: 1000, immediate: true })
    }
  })
  scheduler.start()
  await clock.tick(1000)
  t.equal(runs, 5, 'each immediate re-queue ran on its own (zero-delay) wake')
  t.ok(clock.delays.filter((ms) => ms === 0).length >= 4, 'zero-delay wakes, not a synchronous loop')
})
