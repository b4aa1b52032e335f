/**
 * Shutting down a scheduler on a shared store: claims in flight are awaited (a
 * fire won meanwhile is given back as aborted), ends are flushed, the instance
 * leaves the fleet, the store is closed, and no timer is left on the clock.
 */
import t from 'tap'
import { Fleet, logged, openRuns } from './helpers/flaky-store.js'

const START = '2026-01-05T00:00:00.000Z'
const T0 = Date.parse(START)
/** The instant `ms` after the start. */
const at = (ms: number): number => T0 + ms

t.test('shutdown: claims in flight are awaited and a claim won meanwhile is given back; ends flushed; it leaves; the store is closed', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  let ran = 0
  const a = fleet.join({ shutdownTimeout: 1000 })
  const b = fleet.join({})
  a.scheduler.addJob({ id: 'slow', trigger: { interval: 3_600_000 }, handler: open.handler('i1') })
  a.scheduler.addJob({ id: 'job', trigger: { interval: 3_600_000, startAt: at(3_600_001) }, handler: () => { ran++ } })
  await a.scheduler.start()
  await fleet.clock.tick(3_600_000)
  await b.scheduler.start()
  t.equal(open.runs.length, 1)
  a.store.hang('claim')
  await fleet.clock.tick(1) // a claims 'job'; the answer is slow
  t.equal(a.store.held, 1)
  let closed = false
  const closing = a.scheduler.shutdown().then(() => { closed = true })
  t.equal(a.scheduler.state, 'stopped')
  await fleet.clock.tick(2000)
  t.equal(closed, false, 'waits for the claim in flight')
  a.store.heal()
  a.store.release()
  await fleet.clock.tick(0)
  await fleet.clock.tick(1000)
  await closing
  t.equal(ran, 0, 'the fire won after shutdown began did not run')
  t.match((await fleet.store.readJobs(['job', 'slow'])), [
    { running: 0, lastRun: { status: 'aborted', instanceId: 'i1', error: { name: 'AbortError', message: 'Job "job" was not started: the scheduler is shutting down' } }, stats: { runs: 1, failures: 1 } },
    { running: 0, lastRun: { status: 'aborted', instanceId: 'i1', error: { name: 'AbortError', message: 'Job "slow" was aborted at shutdown' } } }
  ], 'given back at once (not left to its lease); the run aborted at the deadline was reported')
  t.same((await fleet.store.instances(3_600_000)).map((instance) => instance.id), ['i2'], 'a left the fleet')
  t.same(a.store.calls.slice(-3).map((call) => call.method), ['unsubscribe', 'leave', 'close'])
  t.match(a.of('scheduler:shutdown'), [{ state: 'stopped' }])
  await b.scheduler.shutdown()
  t.equal(fleet.clock.pending, 0, 'nothing left on the clock')
})

t.test('shutdown: while booting, without start, while unreachable, and when the store fails at the end', async (t) => {
  const fleet = new Fleet(START)
  const booting = fleet.join({})
  booting.store.hang('reconcile')
  const started = booting.scheduler.start()
  const closing = booting.scheduler.shutdown()
  await fleet.clock.tick(0)
  booting.store.heal()
  booting.store.release()
  await started
  await closing
  t.equal(booting.scheduler.state, 'stopped', 'a boot that ends after shutdown began does not start')
  t.same(booting.of('scheduler:start'), [])
  t.same(booting.store.calls.slice(-3).map((call) => call.method), ['unsubscribe', 'leave', 'close'])

  const idle = fleet.join({})
  await idle.scheduler.shutdown()
  t.same(idle.store.calls.map((call) => call.method), ['leave', 'close'], 'never started: nothing to unsubscribe')

  const lost = fleet.join({})
  await lost.scheduler.start()
  lost.store.fail()
  await lost.scheduler.refresh()
  await lost.scheduler.shutdown()
  t.same(lost.store.calls.slice(-2).map((call) => call.method), ['unsubscribe', 'close'], 'unreachable: it does not try to leave')
  t.equal(logged(lost, 'warn', /failed at shutdown/), 2, 'failures at shutdown are logged')

  // The run aborted at the deadline ends while the cluster closes: its end can't be sent (dropped, its lease will expire) and leaving fails.
  const failing = fleet.join({ shutdownTimeout: 100 })
  failing.scheduler.addJob({ id: 'job', trigger: { interval: 3_600_000 }, handler: async () => await new Promise(() => {}) })
  await failing.scheduler.start()
  const run = failing.scheduler.runJob('job')
  await fleet.clock.tick(0)
  failing.store.fail('finish', 'leave')
  const closing2 = failing.scheduler.shutdown()
  await fleet.clock.tick(100)
  await closing2
  t.match(await run, { status: 'aborted' })
  t.equal(failing.store.count('finish'), 2, 'tried while closing, once queued and once more at the final flush')
  t.equal(logged(failing, 'error', /unreachable/), 0, 'a failure while closing does not start retrying')
  t.equal(logged(failing, 'warn', /leave on the memory store failed at shutdown/), 1)
  t.equal(fleet.clock.pending, 0, 'no retry armed after shutdown')
})

t.test('shutdown while store work is in flight: the answers that come later are dropped', async (t) => {
  const fleet = new Fleet(START)
  const poller = fleet.join({ pollInterval: 1000, leaseTime: 30_000 })
  poller.scheduler.addJob({ id: 'job', trigger: { interval: 3_600_000 }, handler: () => {} })
  await poller.scheduler.start()
  poller.store.hang('versions')
  await fleet.clock.tick(1000)
  const closing = poller.scheduler.shutdown()
  await fleet.clock.tick(0)
  poller.store.release()
  await closing
  t.equal(poller.store.count('versions'), 1)
  t.equal(poller.store.count('readJobs'), 0, 'the poll\'s answer came after shutdown: nothing re-read')

  // A poll that finds a change (its notification lost) and re-reads the job as shutdown begins.
  const deaf = fleet.join({ pollInterval: 1000, leaseTime: 30_000 })
  const changer = fleet.join({ pollInterval: 60_000, leaseTime: 30_000 })
  for (const member of [deaf, changer]) {
    member.scheduler.addJob({ id: 'changed', trigger: { interval: 3_600_000 }, handler: () => {} })
    await member.scheduler.start()
  }
  deaf.store.deaf = true
  changer.scheduler.pauseJob('changed')
  deaf.store.hang('readJobs')
  await fleet.clock.tick(1000)
  t.equal(deaf.store.held, 1, 'the changed job is being re-read')
  const closingDeaf = deaf.scheduler.shutdown()
  await fleet.clock.tick(0)
  deaf.store.release()
  await closingDeaf
  t.equal(deaf.scheduler.getJob('changed')?.paused, false, 'its answer came after shutdown: dropped')
  await changer.scheduler.shutdown()

  const sweeper = fleet.join({ leaseTime: 3000, pollInterval: 60_000 })
  await sweeper.scheduler.start()
  sweeper.store.hang('sweep')
  await fleet.clock.tick(1000)
  const closing2 = sweeper.scheduler.shutdown()
  await fleet.clock.tick(0)
  sweeper.store.release()
  await closing2

  const beater = fleet.join({ leaseTime: 3000, pollInterval: 60_000 })
  await beater.scheduler.start()
  beater.store.hang('heartbeat')
  await fleet.clock.tick(1000)
  const closing3 = beater.scheduler.shutdown()
  await fleet.clock.tick(0)
  beater.store.release()
  await closing3

  const retrying = fleet.join({ leaseTime: 3000, pollInterval: 60_000 })
  retrying.scheduler.addJob({ id: 'job', trigger: { interval: 3_600_000 }, handler: () => {} })
  await retrying.scheduler.start()
  retrying.store.fail()
  await fleet.clock.tick(1000)
  retrying.store.hang('now')
  const reads = retrying.store.count('now')
  await fleet.clock.tick(500)
  const closing4 = retrying.scheduler.shutdown()
  retrying.store.release()
  await closing4
  await fleet.clock.tick(60_000)
  t.equal(retrying.store.count('now'), reads + 1, 'the retry that failed after shutdown is not armed again')

  const reconnecting = fleet.join({ leaseTime: 3000, pollInterval: 60_000 })
  reconnecting.scheduler.addJob({ id: 'job', trigger: { interval: 3_600_000 }, handler: () => {} })
  await reconnecting.scheduler.start()
  reconnecting.store.fail()
  await fleet.clock.tick(1000)
  reconnecting.store.heal()
  reconnecting.store.hang('readJobs')
  await fleet.clock.tick(500)
  const closing5 = reconnecting.scheduler.shutdown()
  reconnecting.store.release()
  await closing5
  t.equal(logged(reconnecting, 'info', /reachable again/), 0, 'a reconnect that completes after shutdown is dropped')
  t.equal(fleet.clock.pending, 0)
})
