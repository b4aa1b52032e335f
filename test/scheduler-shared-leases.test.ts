/**
 * Leases on a shared store: an instance that stalls past its lease (a stopped
 * process, played by a StallableClock over the fleet's ManualClock) has its runs
 * swept as lost by another instance, rerun once with onLost 'rerun', aborted when
 * it resumes, and its late ends refused. Ends reach the store in batches.
 */
import t from 'tap'
import { END_BATCH_MS } from '../lib/cluster.js'
import { Fleet, StallableClock, jobOf, logged, openRuns } from './helpers/flaky-store.js'
import { flush } from './helpers/fake-clock.js'
import { iso } from './helpers/scheduler.js'

const START = '2026-01-05T00:00:00.000Z'
const T0 = Date.parse(START)
/** The instant `ms` after the start. */
const at = (ms: number): number => T0 + ms

t.test('leases: a stalled instance\'s run is swept as lost; with onLost rerun it runs once more, never a third time', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const clocks = [new StallableClock(fleet.clock), new StallableClock(fleet.clock), new StallableClock(fleet.clock)]
  const members = clocks.map((clock) => fleet.join({ clock, leaseTime: 3000, pollInterval: 60_000 }))
  // i1's share: i1 claims its fire first (the others' backup claims find it taken).
  const job = jobOf('i1', ['i1', 'i2', 'i3'])
  for (const member of members) {
    member.scheduler.addJob({ id: job, trigger: { at: at(1000) }, onLost: 'rerun', handler: open.handler(member.scheduler.instanceId) })
    await member.scheduler.start()
  }
  await fleet.clock.tick(1500)
  t.same(open.runs.map((run) => [run.instanceId, run.scheduledAt]), [['i1', 1000]])
  clocks[0].stall()
  await fleet.clock.tick(2000) // 3,500: i1's lease (renewed at 1,000 for 3,000 ms) still holds
  t.same(open.runs.length, 1)
  t.match((await fleet.store.readJobs([job]))[0], { running: 1, lastRun: null })
  await fleet.clock.tick(500) // 4,000: expired; i2's heartbeat sweeps it and reruns the fire
  t.same(open.runs.map((run) => [run.instanceId, run.scheduledAt]), [['i1', 1000], ['i2', 1000]], 'the rerun is for the same fire, on the sweeping instance')
  t.equal(logged(members[1], 'warn', /a run was lost/), 1)
  t.match(members[1].logs.find((line) => /a run was lost/.test(line.msg ?? '')), { obj: { jobId: job, runId: open.runs[0].runId, instanceId: 'i1' } })
  await members[2].scheduler.refresh()
  t.match(members[2].scheduler.getJob(job), {
    running: 1,
    lastRun: { runId: open.runs[0].runId, status: 'lost', instanceId: 'i1', finishedAt: null, durationMs: null, scheduledAt: iso(at(1000)), error: { name: 'LostRunError', message: /i1/ } },
    stats: { runs: 2, successes: 0, failures: 1 }
  })

  clocks[1].stall() // the rerun's instance stalls too: i3 sweeps it, and a second attempt is not rerun
  await fleet.clock.tick(10_000)
  t.equal(open.runs.length, 2, 'never a third time')
  t.match((await fleet.store.readJobs([job]))[0], { running: 0, lastRun: { runId: open.runs[1].runId, status: 'lost', instanceId: 'i2' }, stats: { runs: 2, failures: 2 } })
  t.equal(logged(members[2], 'warn', /a run was lost/), 1)

  // Both resume: their first heartbeat finds the fence lost and aborts the run.
  t.same(open.runs.map((run) => run.signal.aborted), [false, false])
  await clocks[0].resume()
  await clocks[1].resume()
  t.same(open.runs.map((run) => run.signal.aborted), [true, true])
  t.match(open.runs[0].signal.reason, { name: 'AbortError', message: `Job "${job}" was aborted because its lease expired and the fleet took it over` })
  t.equal(logged(members[0], 'warn', /lease expired and the fleet took it over; aborting it/), 1)
  await fleet.clock.tick(1000)
  t.equal(members[0].store.count('finish'), 0, 'an aborted lost run sends no end')
  t.match((await fleet.store.readJobs([job]))[0], { lastRun: { status: 'lost', instanceId: 'i2' }, stats: { runs: 2, successes: 0, failures: 2 } }, 'unchanged')
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('leases: the late end of a lost run is refused by the store', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const stalled = new StallableClock(fleet.clock)
  const a = fleet.join({ clock: stalled, leaseTime: 3000 })
  const b = fleet.join({ leaseTime: 3000 })
  // Both of a's share.
  const [job, other] = [jobOf('i1', ['i1', 'i2']), jobOf('i1', ['i1', 'i2'], 'other')]
  for (const member of [a, b]) {
    member.scheduler.addJob({ id: job, trigger: { interval: 3_600_000 }, handler: open.handler(member.scheduler.instanceId) })
    member.scheduler.addJob({ id: other, trigger: { interval: 3_600_000 }, handler: open.handler(member.scheduler.instanceId) })
  }
  await a.scheduler.start()
  await b.scheduler.start()
  await fleet.clock.tick(3_600_000)
  t.same(open.runs.map((run) => run.instanceId), ['i1', 'i1'])
  stalled.stall()
  await fleet.clock.tick(5000)
  t.match((await fleet.store.readJobs([job]))[0], { lastRun: { status: 'lost', instanceId: 'i1' }, stats: { runs: 1, successes: 0, failures: 1 } }, 'swept (onLost mark: no rerun)')
  t.equal(open.runs.length, 2)
  // It resumes and its handlers finish before its next heartbeat.
  open.settle()
  await stalled.resume()
  await fleet.clock.tick(END_BATCH_MS)
  t.equal(logged(a, 'warn', /ended after the fleet took it over/), 2)
  t.match(a.logs.find((line) => /ended after the fleet took it over/.test(line.msg ?? '')), { obj: { jobId: job, status: 'success' } })
  t.match((await fleet.store.readJobs([job, other])), [
    { lastRun: { status: 'lost' }, stats: { runs: 1, successes: 0, failures: 1 } },
    { lastRun: { status: 'lost' }, stats: { runs: 1, successes: 0, failures: 1 } }
  ], 'the result is discarded')
  await fleet.shutdown()
})

t.test('leases: runs of a job the sweeper doesn\'t know, reruns by a paused sweeper, other live runs', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const stalled = new StallableClock(fleet.clock)
  const a = fleet.join({ clock: stalled, leaseTime: 3000 })
  const b = fleet.join({ leaseTime: 3000 })
  // Both of a's share.
  const [onlyA, shared] = [jobOf('i1', ['i1', 'i2'], 'only-a'), jobOf('i1', ['i1', 'i2'], 'shared')]
  a.scheduler.addJob({ id: onlyA, trigger: { interval: 3_600_000 }, onLost: 'rerun', handler: open.handler('i1') })
  a.scheduler.addJob({ id: shared, trigger: { interval: 3_600_000 }, onLost: 'rerun', handler: open.handler('i1') })
  b.scheduler.addJob({ id: shared, trigger: { interval: 3_600_000 }, onLost: 'rerun', handler: open.handler('i2') })
  await a.scheduler.start()
  await b.scheduler.start()
  await fleet.clock.tick(3_600_000)
  t.equal(open.runs.length, 2)
  stalled.stall()
  b.scheduler.pause()
  await fleet.clock.tick(5000)
  t.equal(logged(b, 'warn', /a run was lost/), 2, 'b swept both')
  t.equal(open.runs.length, 2, 'no rerun: b does not know only-a, and b is paused')
  t.match((await fleet.store.readJobs([onlyA, shared])), [{ stats: { failures: 1 } }, { stats: { failures: 1 } }])
  // As it resumes, a run starts on it before its heartbeat: that one is not lost and must survive.
  const survivor = a.scheduler.runJob(onlyA)
  await flush()
  t.equal(open.runs.length, 3)
  await stalled.resume()
  t.same(open.runs.map((run) => run.signal.aborted), [true, true, false], 'the heartbeat aborts the lost runs only')
  open.settle()
  t.match(await survivor, { status: 'success' })
  await fleet.shutdown()
})

t.test('a run end that comes while a batch of ends is in flight is sent too, not left to expire', async (t) => {
  const fleet = new Fleet(START)
  const first = openRuns(T0)
  const second = openRuns(T0)
  const a = fleet.join({ leaseTime: 3000 })
  const b = fleet.join({ leaseTime: 3000 })
  // Both of a's share (b has neither).
  const ids = [jobOf('i1', ['i1', 'i2'], 'first'), jobOf('i1', ['i1', 'i2'], 'second')]
  a.scheduler.addJob({ id: ids[0], trigger: { interval: 3_600_000 }, handler: first.handler('i1') })
  a.scheduler.addJob({ id: ids[1], trigger: { interval: 3_600_000 }, handler: second.handler('i1') })
  await a.scheduler.start()
  await b.scheduler.start()
  await fleet.clock.tick(3_600_000)
  a.store.hang('finish')
  first.settle()
  await fleet.clock.tick(END_BATCH_MS)
  t.equal(a.store.held, 1, 'the first end is on its way (a slow round trip)')
  second.settle()
  await flush()
  a.store.heal()
  a.store.release()
  await fleet.clock.tick(10_000)
  const stored = await fleet.store.readJobs(ids)
  t.same(stored.map((job) => [job.id, job.lastRun?.status, job.stats.successes, job.stats.failures]), [
    [ids[0], 'success', 1, 0],
    [ids[1], 'success', 1, 0]
  ], 'both ends reached the store; neither run was swept as lost')
  await fleet.shutdown()
})
