/**
 * Runs' ends reach the store in batches: END_BATCH_MS after the first end of a
 * batch (out of the burst of claims at the top of a second), sooner when a
 * claim of one of their jobs needs them (maxInstances must not count a run
 * that has ended), and at once for a manual run (its caller may act on it).
 */
import t from 'tap'
import { END_BATCH_MS } from '../lib/cluster.js'
import { Fleet } from './helpers/flaky-store.js'

const START = '2026-01-05T00:00:00.000Z'
const T0 = Date.parse(START)

t.test('ends: the ends of a wake go in one round trip, END_BATCH_MS after the first', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  const ids = ['one', 'two', 'three']
  for (const id of ids) a.scheduler.addJob({ id, trigger: { interval: 10_000 }, handler: () => {} })
  await a.scheduler.start()
  await fleet.clock.tick(10_000)
  t.equal(a.store.count('finish'), 0, 'the runs have ended; their ends wait')
  t.same((await fleet.store.readJobs(ids)).map((job) => job.running), [1, 1, 1], 'still live in the store meanwhile')
  await fleet.clock.tick(END_BATCH_MS)
  t.same(a.store.times('finish').map((time) => time - T0), [10_000 + END_BATCH_MS], 'one batch')
  t.same((await fleet.store.readJobs(ids)).map((job) => [job.running, job.stats.successes]), [[0, 1], [0, 1], [0, 1]])
  await fleet.shutdown()
})

t.test('ends: a claim of a job whose end is waiting sends the ends first, so maxInstances does not count that run', async (t) => {
  const fleet = new Fleet(START)
  const runs: number[] = []
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'fast', trigger: { interval: 100 }, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - T0) } })
  await a.scheduler.start()
  await fleet.clock.tick(300)
  t.same(runs, [100, 200, 300], 'every fire ran (maxInstances 1)')
  t.same(a.of('job:skipped'), [])
  t.same(a.store.times('finish').map((time) => time - T0), [200, 300], 'the end of each run went just before the next claim of its job')
  await fleet.shutdown()
})

t.test('ends: a claim of a job whose end is on its way waits for that round trip', async (t) => {
  const fleet = new Fleet(START)
  const runs: number[] = []
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 300 }, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - T0) } })
  await a.scheduler.start()
  a.store.hang('finish')
  await fleet.clock.tick(300 + END_BATCH_MS)
  t.equal(a.store.held, 1, 'the end of the run of 300 is on its way (a slow round trip)')
  await fleet.clock.tick(600 - 300 - END_BATCH_MS)
  t.same(a.store.times('claim').map((time) => time - T0), [300], 'the claim of 600 waits for it')
  a.store.heal()
  a.store.release()
  await fleet.clock.tick(0)
  t.same(a.store.times('claim').map((time) => time - T0), [300, 600], 'then goes')
  t.same(runs, [300, 600], 'and its fire runs: the ended run is not counted against maxInstances')
  t.same(a.of('job:skipped'), [])
  await fleet.shutdown()
})

t.test('ends: a manual run\'s end goes at once', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  const b = fleet.join({})
  for (const member of [a, b]) {
    member.scheduler.addJob({ id: 'job', trigger: { interval: 3_600_000 }, handler: () => 'done' })
    await member.scheduler.start()
  }
  t.match(await a.scheduler.runJob('job'), { status: 'success' })
  t.same(a.store.times('finish').map((time) => time - T0), [0], 'sent as it ended')
  t.match(await b.scheduler.runJob('job'), { status: 'success' }, 'another instance\'s manual run right after is not skipped')
  await fleet.shutdown()
})

t.test('ends: shutdown sends the waiting ends', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: () => {} })
  await a.scheduler.start()
  await fleet.clock.tick(10_000)
  t.equal(a.store.count('finish'), 0)
  await a.scheduler.shutdown()
  t.same(a.store.times('finish').map((time) => time - T0), [10_000], 'sent at shutdown, before the batch was due')
  t.match((await fleet.store.readJobs(['job']))[0], { running: 0, stats: { successes: 1 } })
  t.equal(fleet.clock.pending, 0, 'no timer left')
})
