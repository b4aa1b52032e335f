/**
 * Clocks that disagree with the shared store's: the store's clock decides when
 * a fire is due. An instance measures its offset (warning beyond a second) and
 * reads time through the corrected clock; a claim made early is answered 'early'
 * and retried at the due time.
 */
import t from 'tap'
import { Cluster } from '../lib/cluster.js'
import { MemoryStore } from '../lib/stores/memory.js'
import { Fleet, FlakyStore, jobOf, logged, skewedClock } from './helpers/flaky-store.js'
import { ManualClock } from './helpers/fake-clock.js'
import { recordingLogger } from './helpers/logger.js'
import { iso } from './helpers/scheduler.js'

const START = '2026-01-05T00:00:00.000Z'
const T0 = Date.parse(START)
/** The instant `ms` after the start. */
const at = (ms: number): number => T0 + ms

t.test('clock offset: an instance 5 minutes ahead runs each fire when the store says it is due', async (t) => {
  const fleet = new Fleet(START)
  const runs: Array<[number, number]> = []
  const a = fleet.join({ clock: skewedClock(fleet.clock, { ms: 300_000 }) })
  const b = fleet.join({ clock: skewedClock(fleet.clock, { ms: 800 }) })
  // A job of a's share: b has no such job and never claims it.
  const job = jobOf('i1', ['i1', 'i2'])
  a.scheduler.addJob({ id: job, trigger: { interval: 10_000 }, handler: (ctx) => { runs.push([ctx.scheduledAt.getTime() - T0, fleet.clock.now() - T0]) } })
  await a.scheduler.start()
  await b.scheduler.start()
  t.equal(logged(a, 'warn', /clock is more than a second off/), 1)
  t.match(a.logs.find((line) => /more than a second off/.test(line.msg ?? '')), { obj: { offsetMs: -300_000, store: 'memory' } })
  t.equal(logged(b, 'warn', /off the store/), 0, 'within a second: no warning')
  t.equal(a.scheduler.getJob(job)?.nextRunAt, iso(at(10_000)))
  await fleet.clock.tick(60_000)
  t.same(runs, [10, 20, 30, 40, 50, 60].map((s) => [s * 1000, s * 1000]), 'neither early nor late by the store\'s clock')
  t.equal(logged(a, 'warn', /off the store/), 1, 'warned once, not at every heartbeat')
  await fleet.shutdown()
})

t.test('clock offset: a clock that steps ahead after start claims early; the store says so and the fire runs at its due time', async (t) => {
  const fleet = new Fleet(START)
  const runs: Array<[number, number]> = []
  const skew = { ms: 0 }
  const a = fleet.join({ clock: skewedClock(fleet.clock, skew), leaseTime: 600_000 })
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: (ctx) => { runs.push([ctx.scheduledAt.getTime() - T0, fleet.clock.now() - T0]) } })
  await a.scheduler.start()
  await fleet.clock.tick(5000)
  skew.ms = 2000
  await fleet.clock.tick(55_000)
  t.same(runs, [10, 20, 30, 40, 50, 60].map((s) => [s * 1000, s * 1000]), 'each fire once, none before its time')
  const claims = a.store.times('claim').map((time) => time - T0)
  t.same(claims, [10_000, 18_000, 20_000, 30_000, 40_000, 50_000, 60_000], 'claimed early once, answered early: the store\'s time corrects the clock, and the later fires are claimed on time')
  await fleet.shutdown()
})

t.test('clock offset: a clock that steps 5 minutes ahead drops no fire', async (t) => {
  const fleet = new Fleet(START)
  const runs: Array<[number, number]> = []
  const skew = { ms: 0 }
  const a = fleet.join({ clock: skewedClock(fleet.clock, skew), leaseTime: 600_000 })
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: (ctx) => { runs.push([ctx.scheduledAt.getTime() - T0, fleet.clock.now() - T0]) } })
  await a.scheduler.start()
  await fleet.clock.tick(5000)
  skew.ms = 300_000
  await fleet.clock.tick(395_000) // 400,000 by the store's clock
  t.ok(runs.every(([scheduled, ran]) => ran >= scheduled), 'nothing ran before its time')
  t.same(runs.map(([scheduled]) => scheduled / 1000), Array.from({ length: 40 }, (_, k) => (k + 1) * 10), 'every fire ran')
  t.same((await fleet.store.readJobs(['job']))[0].stats.missed, 0)
  await fleet.shutdown()
})

t.test('clock offset: the warning comes back when the clock drifts off again', async (t) => {
  const fleet = new Fleet(START)
  const skew = { ms: 5000 }
  const a = fleet.join({ clock: skewedClock(fleet.clock, skew), leaseTime: 3000 })
  await a.scheduler.start()
  t.equal(logged(a, 'warn', /off the store/), 1)
  skew.ms = 0
  await fleet.clock.tick(1000)
  skew.ms = -3000
  await fleet.clock.tick(1000)
  t.equal(logged(a, 'warn', /off the store/), 2)
  t.match(a.logs.filter((line) => /off the store/.test(line.msg ?? '')).at(-1), { obj: { offsetMs: 3000 } })
  await fleet.shutdown()
})

t.test('clock offset: an early claim of a job removed or paused meanwhile is not retried', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const skew = { ms: 0 }
  const a = fleet.join({ clock: skewedClock(fleet.clock, skew), leaseTime: 600_000 })
  a.scheduler.addJob({ id: 'removed', trigger: { interval: 10_000 }, handler: () => { runs++ } })
  a.scheduler.addJob({ id: 'paused', trigger: { interval: 10_000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  await fleet.clock.tick(5000)
  skew.ms = 3000 // the local clock steps ahead; the fires of 10,000 (seen at 13,000) are on time for the store
  await fleet.clock.tick(5000)
  t.equal(runs, 2)
  await fleet.clock.tick(7000) // 17,000 reads 20,000 here: both claimed early
  a.scheduler.removeJob('removed')
  a.scheduler.pauseJob('paused')
  await fleet.clock.tick(10_000)
  t.equal(runs, 2)
  t.same(a.store.times('claim').map((time) => time - T0), [10_000, 17_000])
  await fleet.shutdown()
})

t.test('clock offset: shutdown leaves no timer behind, even with an early claim waiting to be retried', async (t) => {
  const fleet = new Fleet(START)
  const skew = { ms: 0 }
  const a = fleet.join({ clock: skewedClock(fleet.clock, skew), leaseTime: 600_000 })
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: () => {} })
  await a.scheduler.start()
  await fleet.clock.tick(5000)
  skew.ms = 5000
  await fleet.clock.tick(10_000) // 15,000 reads 20,000: claimed 5 s early; the retry waits for 20,000
  t.same(a.store.times('claim').map((time) => time - T0), [10_000, 15_000])
  await a.scheduler.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('Cluster on its own: a slow sample of the store\'s clock is ignored, until slow is the norm', async (t) => {
  const clock = new ManualClock(START)
  const store = new FlakyStore(new MemoryStore({ clock }), clock)
  const cluster = new Cluster(store, 'c1', skewedClock(clock, { ms: 5000 }), recordingLogger(), { leaseTime: 3000, pollInterval: 60_000 }, {
    liveFences: () => [],
    lost: () => {},
    swept: () => {},
    apply: () => {},
    jobIds: () => [],
    changed: () => [],
    sharesChanged: () => {}
  })
  await cluster.open([])
  t.equal(cluster.offset, -5000)
  const offsets: number[] = []
  for (let beat = 0; beat < 5; beat++) {
    store.hang('heartbeat')
    await clock.tick(1000) // the heartbeat goes out...
    await clock.tick(50) // ...and its answer takes 50 ms: the store's time is known to 25 ms only
    store.heal()
    store.release()
    await clock.tick(0)
    offsets.push(cluster.offset)
  }
  t.same(offsets, [-5000, -5000, -5000, -5000, -4975], 'ignored while much slower than the sample the offset came from; the bar rises each time')
  await cluster.close()
})
