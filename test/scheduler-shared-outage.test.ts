/**
 * A shared store that can't be reached: at startup (start() rejects), at
 * runtime (nothing runs unclaimed, retries back off, the outage is caught up on
 * reconnect through the misfire rules), and a store that answers nonsense. Each
 * instance reaches the fleet's MemoryStore through a FlakyStore of its own.
 */
import t from 'tap'
import { Cluster, END_BATCH_MS, MAX_PENDING_ENDS, RETRY_FIRST_MS } from '../lib/cluster.js'
import { SchedulerError } from '../lib/errors.js'
import { Scheduler } from '../lib/scheduler.js'
import { MemoryStore } from '../lib/stores/memory.js'
import type { RunEnd } from '../lib/stores/store.js'
import { Fleet, FlakyStore, StallableClock, jobOf, logged, openRuns, skewedClock } from './helpers/flaky-store.js'
import { ManualClock } from './helpers/fake-clock.js'
import { recordingLogger, type LogLine } from './helpers/logger.js'

const START = '2026-01-05T00:00:00.000Z'
const T0 = Date.parse(START)
/** The instant `ms` after the start. */
const at = (ms: number): number => T0 + ms

t.test('store unreachable at runtime: nothing runs unclaimed, one error, retries back off, the outage is caught up', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const runs: number[] = []
  const a = fleet.join({ leaseTime: 3000, pollInterval: 60_000 })
  a.scheduler.addJob({ id: 'tick', trigger: { interval: 1000 }, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - T0) } })
  a.scheduler.addJob({ id: 'long', trigger: { at: at(1000) }, handler: open.handler('i1') })
  await a.scheduler.start()
  await fleet.clock.tick(1500)
  t.same(runs, [1000])
  a.store.fail('claim')
  await fleet.clock.tick(500) // 2,000: the claim of the wake fails
  t.same(runs, [1000], 'a fire whose claim failed does not run')
  t.equal(logged(a, 'error', /the store is unreachable/), 1)
  t.match(a.logs.find((line) => line.level === 'error'), { obj: { store: 'memory', address: 'memory', action: 'claim', err: { message: 'memory claim: connection refused' } } })
  a.store.fail() // and now everything
  const claims = a.store.count('claim')
  await fleet.clock.tick(8000) // 10,000
  t.equal(a.store.count('claim'), claims, 'no claim is even tried while unreachable')
  t.same(runs, [1000], 'no fire runs unclaimed')
  const finished = a.store.count('finish')
  open.settle()
  await fleet.clock.tick(0)
  t.equal(a.store.count('finish'), finished, 'the end waits for the store')
  await fleet.clock.tick(90_000) // 100,000
  a.store.heal()
  await fleet.clock.tick(30_000) // 130,000
  // Each attempt reads the store's clock (more than once when it answers): one entry per attempt.
  const retries = [...new Set(a.store.times('now'))].slice(1)
  t.same(retries.map((time) => time - T0), [2500, 3500, 5500, 9500, 17_500, 33_500, 63_500, 93_500, 123_500], 'retries after 500 ms, 1 s, 2 s, ... capped at 30 s')
  t.equal(logged(a, 'error', /the store is unreachable/), 1, 'logged once for the whole outage')
  t.equal(a.logs.filter((line) => line.level === 'debug' && /still unreachable/.test(line.msg ?? '')).length, 8)
  t.equal(logged(a, 'info', /reachable again/), 1)
  t.same(runs, [1000, 123_000, 124_000, 125_000, 126_000, 127_000, 128_000, 129_000, 130_000], 'one coalesced catch-up run for the outage, then on time')
  await fleet.clock.tick(END_BATCH_MS) // the batch of the last run's end
  t.match((await fleet.store.readJobs(['tick', 'long'])), [
    { stats: { runs: 9, successes: 9, missed: 0 } },
    { lastRun: { status: 'success', instanceId: 'i1', finishedAt: at(10_000) }, stats: { runs: 1, successes: 1 } }
  ], 'the end queued during the outage was sent on reconnect')
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('store unreachable at runtime: an instance that can\'t reach the store never sweeps the others', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const stalled = new StallableClock(fleet.clock)
  const a = fleet.join({ leaseTime: 3000 })
  const b = fleet.join({ clock: stalled, leaseTime: 3000 })
  a.scheduler.addJob({ id: 'a-job', trigger: { interval: 3_600_000 }, handler: () => {} })
  b.scheduler.addJob({ id: 'b-job', trigger: { interval: 3_600_000 }, handler: open.handler('i2') })
  await a.scheduler.start()
  await b.scheduler.start()
  await fleet.clock.tick(3_600_000)
  t.equal(open.runs.length, 1)
  a.store.fail()
  stalled.stall()
  const sweeps = a.store.count('sweep')
  await fleet.clock.tick(60_000)
  t.equal(a.store.count('sweep'), sweeps, 'no sweep while unreachable')
  await stalled.resume()
  open.settle()
  await fleet.clock.tick(END_BATCH_MS)
  t.match((await fleet.store.readJobs(['b-job']))[0], { lastRun: { status: 'success', instanceId: 'i2' }, stats: { runs: 1, successes: 1, failures: 0 } }, 'nobody declared b dead: its end is accepted')
  await fleet.shutdown()
})

t.test('store unreachable at runtime: queued ends, claims and changes meanwhile', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const a = fleet.join({ leaseTime: 30_000, pollInterval: 60_000 })
  const b = fleet.join({})
  // A job of a's share, which b doesn't have.
  const long = jobOf('i1', ['i1', 'i2'], 'long')
  a.scheduler.addJob({ id: long, trigger: { interval: 3_600_000 }, handler: open.handler('i1') })
  a.scheduler.addJob({ id: 'other', trigger: { interval: 3_600_000 }, handler: () => {} })
  b.scheduler.addJob({ id: 'other', trigger: { interval: 3_600_000 }, handler: () => {} })
  await a.scheduler.start()
  await b.scheduler.start()
  await fleet.clock.tick(3_600_000)
  // The end is sent while the store is failing: it is kept for the reconnect.
  const finished = a.store.count('finish')
  a.store.fail()
  open.settle()
  await fleet.clock.tick(END_BATCH_MS)
  t.equal(a.store.count('finish'), finished + 1, 'sent with its batch, failed')
  t.equal(logged(a, 'error', /unreachable/), 1)
  // A notification while unreachable is ignored; a refresh leaves the last state.
  b.scheduler.pauseJob('other')
  await fleet.clock.tick(0)
  await a.scheduler.refresh()
  t.match(a.scheduler.getJob('other'), { paused: false })
  t.same(a.scheduler.getInstances(), [], 'no instances read yet')
  a.scheduler.addJob({ id: 'added', trigger: { interval: 1000 }, handler: () => {} })
  await fleet.clock.tick(0)
  t.equal(a.scheduler.getJob('added')?.nextRunAt, null, 'a job added while unreachable is declared after the outage')
  a.store.heal()
  await fleet.clock.tick(500)
  t.match(a.scheduler.getJob('other'), { paused: true }, 'the resync reads the change')
  t.match((await fleet.store.readJobs([long]))[0], { lastRun: { status: 'success' } })
  t.equal(a.scheduler.getJob('added')?.nextRunAt, null)
  await fleet.clock.tick(1000)
  await fleet.shutdown()
})

t.test('a change made while the store is unreachable is never silently undone', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 1000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  a.store.fail()
  let refused = false
  try {
    a.scheduler.pauseJob('job')
  } catch {
    refused = true
  }
  await fleet.clock.tick(0)
  a.store.heal()
  await fleet.clock.tick(5000)
  t.ok(refused || a.scheduler.getJob('job')?.paused === true, 'either pauseJob failed, or the job is still paused after the reconnect')
  t.ok(refused || runs === 0, 'a paused job does not run')
  await fleet.shutdown()
})

t.test('store unreachable at startup: start() rejects naming the store; it is closed; state stays stopped', async (t) => {
  const clock = new ManualClock(START)
  const store = new FlakyStore(new MemoryStore({ clock }), clock, { kind: 'postgres', address: 'postgres://db.internal:5432/jobs' })
  store.fail('reconcile', 'close')
  const s = new Scheduler({ clock, store })
  s.addJob({ id: 'job', trigger: { interval: 1000 }, handler: () => {} })
  await t.rejects(s.start(), {
    code: 'FST_SCHEDULER_STORE_UNAVAILABLE',
    statusCode: 503,
    message: 'The postgres store at postgres://db.internal:5432/jobs is unavailable (startup): postgres reconcile: connection refused'
  })
  t.equal(s.state, 'stopped')
  t.equal(store.count('close'), 1, 'closed (its failure ignored)')
  t.equal(clock.pending, 0, 'no timer left')

  // A store that rejects with the coded error itself: passed on as it is.
  const coded = new FlakyStore(new MemoryStore({ clock }), clock)
  const own = new SchedulerError('FST_SCHEDULER_STORE_UNAVAILABLE', 'The memory store at memory is unavailable (connect): refused', 503)
  coded.connect = async () => { throw own }
  const s2 = new Scheduler({ clock, store: coded })
  await t.rejects(s2.start(), own)
  t.equal(s2.state, 'stopped')
  await s.shutdown()
  await s2.shutdown()
})

t.test('a store that answers a claim with too many outcomes: logged, and the loop goes on', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 1000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  const broken = new FlakyStore(fleet.store, fleet.clock)
  broken.claim = async (instanceId, claims, leaseMs) => [...await fleet.store.claim(instanceId, claims, leaseMs), { status: 'taken' }]
  a.store.target = broken
  await fleet.clock.tick(1000)
  t.equal(runs, 1)
  t.match(a.logs.filter((line) => line.level === 'error'), [{ msg: /shared-store work failed/, obj: { err: TypeError } }])
  a.store.target = fleet.store
  await fleet.clock.tick(2000)
  t.equal(runs, 3)
  await fleet.shutdown()
})

t.test('a store answer that breaks a heartbeat or a poll: logged, and neither loop stops', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const a = fleet.join({ leaseTime: 3000, pollInterval: 1000 })
  const b = fleet.join({ leaseTime: 3000 })
  const job = jobOf('i1', ['i1', 'i2'])
  a.scheduler.addJob({ id: job, trigger: { interval: 3_600_000 }, handler: open.handler('i1') })
  await a.scheduler.start()
  await b.scheduler.start()
  await fleet.clock.tick(3_600_000)
  t.equal(open.runs.length, 1)
  const broken = new FlakyStore(fleet.store, fleet.clock)
  broken.heartbeat = async () => ({ now: fleet.clock.now(), lost: null as never })
  broken.versions = async () => undefined as never
  a.store.target = broken
  await fleet.clock.tick(1000)
  a.store.target = fleet.store
  t.equal(a.logs.filter((line) => line.level === 'error' && /internal error in the shared-store loop/.test(line.msg ?? '')).length, 2)
  const [beats, polls] = [a.store.count('heartbeat'), a.store.count('versions')]
  await fleet.clock.tick(10_000)
  t.ok(a.store.count('heartbeat') > beats, 'heartbeats go on')
  t.ok(a.store.count('versions') > polls, 'polls go on')
  t.equal((await fleet.store.readJobs([job]))[0].lastRun, null, 'the live run of a live instance is not swept as lost')
  t.equal(open.runs[0].signal.aborted, false)
  open.settle()
  await fleet.shutdown()
})

t.test('Cluster on its own: reachability, offset, and the cap on ends kept while unreachable', async (t) => {
  const clock = new ManualClock(START)
  const store = new FlakyStore(new MemoryStore({ clock }), clock)
  const logs: LogLine[] = []
  const applied: boolean[] = []
  const cluster = new Cluster(store, 'c1', skewedClock(clock, { ms: -2000 }), recordingLogger(logs), { leaseTime: 30_000, pollInterval: 60_000 }, {
    liveFences: () => [],
    lost: () => {},
    swept: () => {},
    apply: (_jobs, resync) => { applied.push(resync) },
    jobIds: () => [],
    changed: () => [],
    sharesChanged: () => {}
  })
  t.same(await cluster.open([]), [])
  t.equal(cluster.reachable, true)
  t.equal(cluster.offset, 2000, 'ms to add to the local clock')
  t.equal(cluster.clock.now(), clock.now())
  t.same(await cluster.readJobs([]), [], 'nothing to read: no round trip')
  t.equal(store.count('readJobs'), 0)

  store.fail()
  t.equal(await cluster.instances(), null)
  t.equal(cluster.reachable, false)
  const end = (fence: number): RunEnd => ({ fence, jobId: 'j', status: 'success', startedAt: 0, finishedAt: 0, durationMs: 0, error: null })
  for (let fence = 1; fence <= MAX_PENDING_ENDS + 1; fence++) cluster.ended(end(fence))
  const batches: number[][] = []
  store.finish = async (_instanceId, ends) => {
    batches.push(ends.map((e) => e.fence))
    return ends.map(() => true)
  }
  store.heal()
  await clock.tick(RETRY_FIRST_MS)
  t.equal(cluster.reachable, true)
  t.same(applied, [true])
  t.same(batches.map((batch) => [batch.length, batch[0], batch.at(-1)]), [[MAX_PENDING_ENDS, 2, MAX_PENDING_ENDS + 1]], 'the oldest end was dropped; the rest went in one batch')
  await cluster.close()
  t.equal(clock.pending, 0)
})

t.test('Cluster on its own: closed by its host while catching up, it arms nothing more', async (t) => {
  const clock = new ManualClock(START)
  const store = new FlakyStore(new MemoryStore({ clock }), clock)
  let closing: Promise<void> | null = null
  const cluster: Cluster = new Cluster(store, 'c1', clock, recordingLogger(), { leaseTime: 30_000, pollInterval: 60_000 }, {
    liveFences: () => [],
    lost: () => {},
    swept: () => {},
    apply: () => { closing = cluster.close() },
    jobIds: () => ['j'],
    changed: () => [],
    sharesChanged: () => {}
  })
  await cluster.open([])
  store.fail()
  t.equal(await cluster.readJobs(['j']), null)
  store.heal()
  await clock.tick(RETRY_FIRST_MS)
  t.not(closing, null, 'the host closed it from apply()')
  await closing
  t.equal(clock.pending, 0, 'no heartbeat or poll armed after close')
})

t.test('two instances catching up one non-coalesced job after an outage: each fire once, none passed over by a later claim', async (t) => {
  const fleet = new Fleet(START)
  const ran: string[] = []
  const job = jobOf('i2', ['i1', 'i2']) // b's share
  // Heartbeats every second: from the first, each instance knows the other.
  const [a, b] = [fleet.join({ leaseTime: 3000, pollInterval: 60_000 }), fleet.join({ leaseTime: 3000, pollInterval: 60_000 })]
  for (const member of [a, b]) {
    const id = member.scheduler.instanceId
    // maxInstances 5: a's ends, held below, leave its runs live in the store meanwhile.
    member.scheduler.addJob({
      id: job,
      trigger: { interval: 1000 },
      coalesce: false,
      maxInstances: 5,
      handler: (ctx) => {
        const fire = ctx.scheduledAt.getTime() - T0
        ran.push(`${fire} ${id}`)
        // a's catch-up stalls after 3,000: its claim of 4,000 will be slow.
        if (id === 'i1' && fire === 3000) a.store.hang('claim')
      }
    })
    await member.scheduler.start()
  }
  await fleet.clock.tick(1500)
  t.same(ran, ['1000 i2'], 'b claims its share first')
  a.store.fail()
  b.store.fail()
  await fleet.clock.tick(1900) // 3,400: both lost the store at 2,000; 2,000 and 3,000 are unclaimed
  a.store.heal()
  a.store.hang('finish')
  await fleet.clock.tick(400) // 3,800: a is back (3,500) and catches up as a backup (3,750): 2,000 ran, its end is on its way
  t.same(ran, ['1000 i2', '2000 i1'])
  b.store.heal()
  b.store.hang('claim')
  await fleet.clock.tick(1700) // 5,500: b is back (watermark 2,000) and claims its catch-up from 3,000: on its way
  t.equal(b.store.held, 1)
  t.same(ran, ['1000 i2', '2000 i1'], 'a\'s claims of 4,000 and 5,000 wait for its catch-up to end')
  a.store.heal()
  a.store.release() // a's catch-up goes on: 3,000 runs on a; its claim of 4,000 is on its way
  await fleet.clock.tick(0)
  t.same(ran, ['1000 i2', '2000 i1', '3000 i1'])
  b.store.heal()
  b.store.release() // b's claim of 3,000 is taken: b goes on with 4,000, then 5,000
  await fleet.clock.tick(0)
  t.same(ran.slice(3), ['4000 i2', '5000 i2'], 'the fires after the one taken are claimed and run, not left for a later claim to pass over')
  await fleet.clock.tick(500) // 6,000: b's next fire
  a.store.heal()
  a.store.release() // a's claim of 4,000 arrives: taken, and so is 5,000; then its claims that waited
  await fleet.clock.tick(2000) // 8,000
  t.same(ran.map((entry) => Number(entry.split(' ')[0])), [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000], 'each fire once, in order')
  t.match((await fleet.store.readJobs([job]))[0], { watermark: at(8000), stats: { runs: 8, skipped: 0, missed: 0 } })
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})
