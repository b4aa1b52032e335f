import t from 'tap'
import FakeTimers from '@sinonjs/fake-timers'
import { MAX_WAIT, setDeadline, systemClock } from '../lib/clock.js'
import { Scheduler } from '../lib/scheduler.js'
import { ManualClock } from './helpers/fake-clock.js'

const DAY = 86_400_000

t.test('the system clock reads Date.now and the timer functions at call time', async (t) => {
  // Installed after lib/clock.js was imported: a user's test does exactly this.
  const fake = FakeTimers.install({ now: Date.parse('2026-01-01T00:00:00Z') })
  t.teardown(() => fake.uninstall())
  t.equal(systemClock.now(), Date.parse('2026-01-01T00:00:00Z'))
  let fired = 0
  const handle = systemClock.setTimeout(() => { fired++ }, 1000)
  t.equal(fake.countTimers(), 1, 'armed on the fake timers')
  fake.tick(999)
  t.equal(fired, 0)
  fake.tick(1)
  t.equal(fired, 1)
  const cleared = systemClock.setTimeout(() => { fired++ }, 10)
  systemClock.clearTimeout(cleared)
  fake.tick(100)
  t.equal(fired, 1, 'clearTimeout cancels')
  t.not(handle, undefined)
})

t.test('the system clock caps every wait and unrefs its timers', async (t) => {
  const original = globalThis.setTimeout
  const calls: number[] = []
  let unrefs = 0
  t.teardown(() => { globalThis.setTimeout = original })
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    calls.push(ms)
    return { unref: () => { unrefs++ } }
  }) as unknown as typeof setTimeout
  systemClock.setTimeout(() => {}, 40 * DAY)
  systemClock.setTimeout(() => {}, -5)
  systemClock.setTimeout(() => {}, 1234)
  t.same(calls, [MAX_WAIT, 0, 1234], 'capped at MAX_WAIT, never negative')
  t.equal(unrefs, 3, 'every timer unref()ed')
  globalThis.setTimeout = ((fn: () => void, ms: number) => 7) as unknown as typeof setTimeout
  t.equal(systemClock.setTimeout(() => {}, 1), 7, 'a handle without unref (a browser-style number) is fine')
})

t.test('a real unref()ed timer: the scheduling timer does not hold the process open', async (t) => {
  const handle = systemClock.setTimeout(() => {}, 50_000) as NodeJS.Timeout
  t.equal(handle.hasRef(), false)
  systemClock.clearTimeout(handle)
})

t.test('setDeadline waits in capped steps, re-reading the clock, and can ref its timers', async (t) => {
  const clock = new ManualClock()
  let fired = 0
  setDeadline(clock, clock.now() + 150_000, () => { fired++ })
  await clock.tick(149_999)
  t.equal(fired, 0)
  await clock.tick(1)
  t.equal(fired, 1)
  t.same(clock.delays, [60_000, 60_000, 30_000])

  const cancel = setDeadline(clock, clock.now() + 10, () => { fired++ })
  cancel()
  cancel()
  await clock.tick(100)
  t.equal(fired, 1, 'cancelled')

  setDeadline(clock, clock.now() - 1, () => { fired++ })
  t.equal(fired, 2, 'a past deadline fires at once')

  const handle = { refs: 0, ref () { this.refs++ } }
  const refClock = { now: () => 0, setTimeout: () => handle, clearTimeout: () => {} }
  setDeadline(refClock, 10, () => {}, { ref: true })
  t.equal(handle.refs, 1, 'ref: true re-refs the timer')
  const numberClock = { now: () => 0, setTimeout: () => 5, clearTimeout: () => {} }
  t.doesNotThrow(() => setDeadline(numberClock, 10, () => {}, { ref: true }), 'a handle without ref() is fine')
})

t.test('with @sinonjs/fake-timers and the default clock: a 40-day at job fires on time, without TimeoutOverflowWarning', async (t) => {
  const warnings: Error[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning) }
  process.on('warning', onWarning)
  const fake = FakeTimers.install({ now: Date.parse('2026-01-01T00:00:00Z') })
  t.teardown(() => {
    fake.uninstall()
    process.off('warning', onWarning)
  })
  const scheduler = new Scheduler({ timezone: 'UTC' })
  const fired: string[] = []
  scheduler.addJob({ id: 'later', trigger: { at: '2026-02-10T00:00:00Z' }, handler: (ctx) => { fired.push(ctx.scheduledAt.toISOString()) } })
  scheduler.start()
  fake.tick(40 * DAY - 1)
  t.same(fired, [], 'not early')
  t.ok(fake.countTimers() <= 1)
  fake.tick(1)
  t.same(fired, ['2026-02-10T00:00:00.000Z'])
  t.equal(fake.countTimers(), 0, 'exhausted: no timer left')
  await scheduler.shutdown()
  t.same(warnings.map((w) => w.name), [], 'no TimeoutOverflowWarning')
})
