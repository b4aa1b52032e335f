/**
 * Claims answered 'busy': PostgreSQL's claims never wait for a job another
 * call holds (a claim of the same fire from another instance, a run's end, a
 * change); they answer 'busy', and the scheduler claims those fires again
 * shortly (BUSY_RETRY_FIRST_MS, doubling up to BUSY_RETRY_MAX_MS), as their
 * wake would make them then. FlakyStore plays the store's answer.
 */
import t from 'tap'
import { BACKUP_CLAIM_DELAY, BUSY_RETRY_FIRST_MS, BUSY_RETRY_MAX_MS } from '../lib/cluster.js'
import { Fleet, jobOf } from './helpers/flaky-store.js'

const START = '2026-01-05T00:00:00.000Z'
const T0 = Date.parse(START)

/** The waits before each new try of a claim that stays busy. */
function waits (tries: number): number[] {
  return Array.from({ length: tries }, (_, i) => Math.min(BUSY_RETRY_FIRST_MS * 2 ** i, BUSY_RETRY_MAX_MS))
}

/** Running sums: the times of the tries after the first. */
function sums (values: number[]): number[] {
  let total = 0
  return values.map((value) => (total += value))
}

t.test('busy: a claim answered busy goes again shortly, the wait doubling to a cap, and its fire runs once', async (t) => {
  const fleet = new Fleet(START)
  const runs: Array<[string, number, number]> = []
  const a = fleet.join({ leaseTime: 600_000 })
  for (const id of ['short', 'long']) {
    a.scheduler.addJob({ id, trigger: { interval: 10_000 }, handler: (ctx) => { runs.push([id, ctx.scheduledAt.getTime() - T0, fleet.clock.now() - T0]) } })
  }
  await a.scheduler.start()
  a.store.busy('short', 3)
  a.store.busy('long', 8)
  await fleet.clock.tick(20_000)
  const short = sums(waits(3))
  const long = sums(waits(8))
  t.same(waits(8), [20, 40, 80, 160, 320, 640, 1000, 1000], 'the waits')
  t.same(a.store.times('claim').map((time) => time - T0), [10_000, ...long.map((ms) => 10_000 + ms), 20_000],
    'one claim for the wake; then each try sends the claims still busy (both, then the long one alone); the next wake as usual')
  t.same(runs, [
    ['short', 10_000, 10_000 + short[2]],
    ['long', 10_000, 10_000 + long[7]],
    ['short', 20_000, 20_000],
    ['long', 20_000, 20_000]
  ], 'each fire ran once, when its claim was decided')
  t.same(a.of('job:skipped'), [])
  t.same(a.of('job:missed'), [])
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('busy: a claim that stays busy past misfireGraceTime is claimed as missed', async (t) => {
  const fleet = new Fleet(START)
  const runs: number[] = []
  const a = fleet.join({ leaseTime: 600_000 })
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, misfireGraceTime: 100, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - T0) } })
  await a.scheduler.start()
  a.store.busy('job', 3)
  await fleet.clock.tick(20_000)
  t.same(runs, [20_000], 'the fire of 10,000 did not run: decided 140 ms late, beyond its grace')
  t.same(a.of('job:missed').map((event) => [event.scheduledAt.getTime() - T0, event.count]), [[10_000, 1]], 'reported missed once')
  t.match((await fleet.store.readJobs(['job']))[0], { watermark: T0 + 20_000, stats: { runs: 1, missed: 1 } }, 'and counted missed in the store')
  await fleet.shutdown()
})

t.test('busy: a backup claim answered busy goes again too, and finds the fire taken', async (t) => {
  const fleet = new Fleet(START)
  const runs: string[] = []
  const a = fleet.join({ leaseTime: 600_000 })
  const b = fleet.join({ leaseTime: 600_000 })
  // A job of a's share: b claims it as a backup, BACKUP_CLAIM_DELAY after its due time.
  const job = jobOf('i1', ['i1', 'i2'])
  for (const member of [a, b]) {
    const id = member.scheduler.instanceId
    member.scheduler.addJob({ id: job, trigger: { interval: 10_000 }, handler: () => { runs.push(id) } })
    await member.scheduler.start()
  }
  b.store.busy(job, 1)
  await fleet.clock.tick(11_000)
  t.same(b.store.times('claim').map((time) => time - T0), [10_000 + BACKUP_CLAIM_DELAY, 10_000 + BACKUP_CLAIM_DELAY + BUSY_RETRY_FIRST_MS], 'busy, then taken')
  t.same(runs, ['i1'], 'run once, by its share\'s instance')
  await fleet.shutdown()
})

t.test('busy: a manual run\'s claim goes again until decided; runJob waits for it', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 3_600_000 }, handler: () => 'done' })
  await a.scheduler.start()
  a.store.busy('job', 2)
  const handle = a.scheduler.startRun('job')
  let started: string | null | undefined
  handle.started.then((runId) => { started = runId }, () => {})
  await fleet.clock.tick(BUSY_RETRY_FIRST_MS)
  t.equal(started, undefined, 'still busy after the first wait')
  await fleet.clock.tick(2 * BUSY_RETRY_FIRST_MS)
  t.equal(started, handle.runId, 'started once decided')
  t.same(await handle.result, { runId: handle.runId, status: 'success', result: 'done' })
  t.equal(a.store.count('claim'), 3)
  await fleet.shutdown()
})

t.test('busy: nothing goes again once shutdown begins, and no timer is left behind', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  a.store.busy('job', 100)
  await fleet.clock.tick(10_000)
  const manual = a.scheduler.startRun('job')
  await fleet.clock.tick(0)
  t.equal(a.store.count('claim'), 2, 'the wake\'s claim and the manual run\'s, both busy and waiting')
  await a.scheduler.shutdown()
  t.equal(await manual.started, null, 'the manual run never started')
  t.same(await manual.result, { runId: null, status: 'skipped' })
  t.equal(a.store.count('claim'), 2, 'neither went again')
  t.equal(runs, 0)
  t.equal(fleet.clock.pending, 0, 'the waits were cleared')
})

t.test('busy: an answer that comes while shutting down is not waited on', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: () => {} })
  await a.scheduler.start()
  a.store.busy('job', 1)
  a.store.hang('claim')
  await fleet.clock.tick(10_000)
  t.equal(a.store.held, 1, 'the claim is on its way')
  const down = a.scheduler.shutdown()
  a.store.release()
  await down
  t.equal(a.store.count('claim'), 1, 'answered busy after shutdown began: not sent again')
  t.equal(fleet.clock.pending, 0)
})

t.test('busy: a claim of a job removed while it waits is not sent again', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: () => {} })
  a.scheduler.addJob({ id: 'manual', trigger: { interval: 3_600_000 }, handler: () => {} })
  await a.scheduler.start()
  a.store.busy('job', 1)
  a.store.busy('manual', 1)
  await fleet.clock.tick(10_000)
  const handle = a.scheduler.startRun('manual')
  await fleet.clock.tick(0)
  a.scheduler.removeJob('job')
  a.scheduler.removeJob('manual')
  await fleet.clock.tick(BUSY_RETRY_FIRST_MS)
  t.equal(a.store.count('claim'), 2, 'neither went again')
  t.equal(await handle.started, null)
  t.same(a.of('job:start'), [])
  await fleet.shutdown()
})
