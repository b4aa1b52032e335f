/**
 * Schedulers on a shared store (DESIGN, "Shared stores"): a fleet is several
 * Schedulers in this process on one MemoryStore, all reading one ManualClock
 * (the store's). Each fire runs once in the fleet, boot reconciliation, changes
 * reaching the other instances, runJob with a store, maxInstances across the
 * fleet, events, option checks. What goes wrong has files of its own:
 * scheduler-shared-leases (stalled instances), -outage (an unreachable store),
 * -clock (clock offsets) and -shutdown.
 */
import t from 'tap'
import { BACKUP_CLAIM_DELAY, END_BATCH_MS } from '../lib/cluster.js'
import { Scheduler } from '../lib/scheduler.js'
import { MemoryStore } from '../lib/stores/memory.js'
import type { JobContext } from '../lib/job.js'
import { Fleet, logged, openRuns, shareOwner, type Member } from './helpers/flaky-store.js'
import { ManualClock } from './helpers/fake-clock.js'
import { iso, listTrigger } from './helpers/scheduler.js'

const START = '2026-01-05T00:00:00.000Z'
const T0 = Date.parse(START)
/** The instant `ms` after the start. */
const at = (ms: number): number => T0 + ms

/** Who ran which fire: `${jobId} ${scheduledAt - T0}` → instance ids. */
class Ledger {
  readonly runs = new Map<string, string[]>()
  readonly order: Array<{ key: string, instanceId: string, runId: string, now: number }> = []

  record (ctx: JobContext, instanceId: string, now: number): void {
    const key = `${ctx.id} ${ctx.scheduledAt.getTime() - T0}`
    this.runs.set(key, [...(this.runs.get(key) ?? []), instanceId])
    this.order.push({ key, instanceId, runId: ctx.runId, now })
  }

  keys (jobId: string): string[] {
    return [...this.runs.keys()].filter((key) => key.startsWith(`${jobId} `))
  }
}

t.test('three schedulers on one store: each fire runs once in the fleet', async (t) => {
  const fleet = new Fleet(START)
  const ledger = new Ledger()
  const members = [fleet.join({}), fleet.join({}), fleet.join({})]
  for (const member of members) {
    const id = member.scheduler.instanceId
    const clock = fleet.clock
    member.scheduler.addJob({ id: 'every-second', trigger: { cron: '* * * * * *' }, handler: (ctx) => { ledger.record(ctx, id, clock.now()) } })
    member.scheduler.addJob({ id: 'every-7s', trigger: { interval: 7000 }, handler: (ctx) => { ledger.record(ctx, id, clock.now()) } })
    member.scheduler.addJob({
      id: 'slow-3s',
      trigger: { interval: { seconds: 3 } },
      handler: async (ctx) => {
        ledger.record(ctx, id, clock.now())
        await new Promise<void>((resolve) => { clock.setTimeout(resolve, 1500) })
      }
    })
  }
  await Promise.all(members.map(async (member) => { await member.scheduler.start() }))
  await fleet.clock.tick(60_000)
  // The first instance steps aside for a minute, then the second: the rest share the fires.
  members[0].scheduler.pause()
  await fleet.clock.tick(60_000)
  members[0].scheduler.resume()
  members[1].scheduler.pause()
  await fleet.clock.tick(60_000)
  members[1].scheduler.resume()
  // To the end of the last run of slow-3s (1.5 s), and of its batch of ends.
  await fleet.clock.tick(1500 + END_BATCH_MS)

  const expected = {
    'every-second': Array.from({ length: 181 }, (_, k) => `every-second ${(k + 1) * 1000}`),
    'every-7s': Array.from({ length: 25 }, (_, k) => `every-7s ${(k + 1) * 7000}`),
    'slow-3s': Array.from({ length: 60 }, (_, k) => `slow-3s ${(k + 1) * 3000}`)
  }
  for (const [jobId, keys] of Object.entries(expected)) {
    t.same(ledger.keys(jobId), keys, `${jobId}: every fire ran, in order`)
  }
  t.same([...ledger.runs.values()].filter((ids) => ids.length !== 1), [], 'no fire ran twice')
  // On time, but for the first fire of each job of a paused instance's share after its pause:
  // the others' backup claims run that one BACKUP_CLAIM_DELAY late, then claim the job first.
  const ids = members.map((member) => member.scheduler.instanceId)
  const late = ledger.order.filter((run) => run.now !== T0 + Number(run.key.split(' ')[1])).map((run) => `${run.key} +${run.now - T0 - Number(run.key.split(' ')[1])}`)
  const firstAfter = (jobId: string, time: number): string => ledger.keys(jobId).find((key) => Number(key.split(' ')[1]) > time) as string
  t.same(late, [['i1', 60_000], ['i2', 120_000]].flatMap(([paused, time]) => Object.keys(expected)
    .filter((jobId) => shareOwner(jobId, ids) === paused)
    .map((jobId) => `${firstAfter(jobId, time as number)} +${BACKUP_CLAIM_DELAY}`)).sort((x, y) => Number(x.split(' ')[1]) - Number(y.split(' ')[1])), 'each on time, but the first fire of a paused instance\'s share')
  t.ok(late.length > 0, 'the fleet has jobs of both paused instances\' shares')
  const runners = (from: number, to: number): string[] => [...new Set(ledger.order.filter((run) => run.now > at(from) && run.now <= at(to)).map((run) => run.instanceId))].sort()
  t.same(runners(60_000, 120_000).includes('i1'), false, 'a paused instance leaves its fires to the others')
  t.same(runners(120_000, 180_000).includes('i2'), false)
  t.same(members[0].of('job:skipped'), [], 'and reports none of them as skipped')
  t.equal(members[0].store.times('claim').filter((time) => time === at(21_000)).length, 1, 'one claim round trip per wake, for the fires of every job')

  const stored = await fleet.store.readJobs(['every-second', 'every-7s', 'slow-3s'])
  t.same(stored.map((job) => job.stats), [
    { runs: 181, successes: 181, failures: 0, missed: 0, skipped: 0 },
    { runs: 25, successes: 25, failures: 0, missed: 0, skipped: 0 },
    { runs: 60, successes: 60, failures: 0, missed: 0, skipped: 0 }
  ], 'the stored stats count each fire once')
  const lastOf = (jobId: string): (typeof ledger.order)[number] => ledger.order.filter((run) => run.key.startsWith(`${jobId} `)).at(-1) as (typeof ledger.order)[number]
  for (const member of members) {
    await member.scheduler.refresh()
    const jobs = member.scheduler.getJobs()
    t.same(jobs.map((job) => job.stats), stored.map((job) => job.stats), `${member.scheduler.instanceId} shows the fleet's stats`)
    for (const job of jobs) {
      const last = lastOf(job.id)
      t.match(job.lastRun, { runId: last.runId, status: 'success', instanceId: last.instanceId, scheduledAt: iso(T0 + Number(last.key.split(' ')[1])) }, `${member.scheduler.instanceId} shows who ran ${job.id} last`)
    }
    t.same(member.scheduler.getInstances().map((instance) => instance.id).sort(), ['i1', 'i2', 'i3'])
  }
  t.match(members[2].scheduler.getInstances()[0], { heartbeatAt: /^2026-01-05T00:03:/, startedAt: iso(T0) })
  const alone = new Scheduler({ clock: fleet.clock, instanceId: 'solo' })
  t.same(alone.getInstances(), [{ id: 'solo', heartbeatAt: iso(fleet.clock.now()), startedAt: iso(fleet.clock.now()) }], 'without a store: this one only')
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('boot: start() resolves once the jobs are reconciled; jobs added meanwhile are declared after', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'j', trigger: { interval: 10_000 }, handler: () => {} })
  t.same(a.scheduler.getJob('j'), { id: 'j', name: 'j', trigger: { type: 'interval', description: 'every 10s', intervalMs: 10_000, anchor: START }, paused: false, running: 0, nextRunAt: null, lastRun: null, stats: { runs: 0, successes: 0, failures: 0, missed: 0, skipped: 0 } }, 'before start: not queued')
  const started = a.scheduler.start()
  t.equal(a.scheduler.start(), started, 'a second start() while booting is the same boot')
  a.scheduler.addJob({ id: 'late', trigger: { interval: 5000 }, handler: () => {} })
  t.equal(a.scheduler.state, 'stopped', 'not running before the store answered')
  await started
  t.equal(a.scheduler.state, 'running')
  t.same(a.of('scheduler:start'), [{ state: 'running' }])
  t.equal(a.scheduler.getJob('j')?.nextRunAt, iso(at(10_000)), 'queued from the stored anchor')
  t.same(a.store.calls.map((call) => call.method).filter((method, i, all) => method !== all[i - 1]), ['connect', 'now', 'reconcile', 'heartbeat', 'instances', 'subscribe', 'reconcile'], 'the clock offset measured before the boot\'s reconcile; one more for the job added while booting')
  await fleet.clock.tick(0)
  t.equal(a.scheduler.getJob('late')?.nextRunAt, iso(at(5000)))
  t.same((await fleet.store.readJobs(['j', 'late'])).map((job) => job.id), ['j', 'late'])
  await a.scheduler.start()
  t.same(a.of('scheduler:start').length, 1, 'start() once running does nothing')
  await fleet.shutdown()
})

t.test('boot: a job paused in the store stays paused for an instance that declares it unpaused', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'p', trigger: { interval: 1000 }, handler: () => { runs++ } })
  a.scheduler.addJob({ id: 'born-paused', trigger: { interval: 1000 }, paused: true, handler: () => { runs++ } })
  await a.scheduler.start()
  a.scheduler.pauseJob('p')
  await fleet.clock.tick(0)
  await a.scheduler.shutdown()

  const b = fleet.join({})
  b.scheduler.addJob({ id: 'p', trigger: { interval: 1000 }, paused: false, handler: () => { runs++ } })
  b.scheduler.addJob({ id: 'born-paused', trigger: { interval: 1000 }, paused: false, handler: () => { runs++ } })
  await b.scheduler.start()
  t.match(b.scheduler.getJobs(), [{ id: 'p', paused: true, nextRunAt: null }, { id: 'born-paused', paused: true, nextRunAt: null }], 'the stored paused wins over the code')
  await fleet.clock.tick(5000)
  t.equal(runs, 0)
  await fleet.shutdown()
})

t.test('boot: a changed trigger re-anchors the job; an older definition follows the stored one and warns once', async (t) => {
  const fleet = new Fleet(START)
  const ledger = new Ledger()
  const join = (interval: number): Member => {
    const member = fleet.join({ pollInterval: 5000 })
    const id = member.scheduler.instanceId
    member.scheduler.addJob({ id: 'job', trigger: { interval }, handler: (ctx) => { ledger.record(ctx, id, fleet.clock.now()) } })
    return member
  }
  const v1 = join(10_000)
  await v1.scheduler.start()
  await fleet.clock.tick(3000)
  const v2 = join(4000)
  await v2.scheduler.start()
  t.match(v2.scheduler.getJob('job'), { trigger: { intervalMs: 4000, anchor: iso(at(3000)) }, nextRunAt: iso(at(7000)) }, 'the new definition, anchored when it was stored')
  t.equal(logged(v2, 'warn', /another definition/), 0)
  await fleet.clock.tick(2000)
  t.match(v1.scheduler.getJob('job'), { trigger: { intervalMs: 4000, anchor: iso(at(3000)) }, nextRunAt: iso(at(7000)) }, 'the old instance follows at its next poll')
  t.equal(logged(v1, 'warn', /another definition/), 1, 'and says so')

  const v1again = join(10_000)
  await v1again.scheduler.start()
  t.match(v1again.scheduler.getJob('job'), { trigger: { intervalMs: 4000 }, nextRunAt: iso(at(7000)) }, 'an older definition (in the hash history) does not come back')
  const stored = (await fleet.store.readJobs(['job']))[0]
  t.match(stored, { anchorAt: at(3000), definition: { trigger: { interval: 4000 } } })
  await fleet.clock.tick(30_000)
  t.same(ledger.keys('job'), [7000, 11_000, 15_000, 19_000, 23_000, 27_000, 31_000, 35_000].map((ms) => `job ${ms}`), 'each fire of the stored definition once, none of the old one')
  t.same([...ledger.runs.values()].filter((ids) => ids.length !== 1), [])
  t.equal(logged(v1again, 'warn', /another definition/), 1, 'warned once, not at every poll')
  t.equal(logged(v1, 'warn', /another definition/), 1)
  t.match(v1again.logs.find((line) => /another definition/.test(line.msg ?? '')), { obj: { jobId: 'job' } })
  await fleet.shutdown()
})

t.test('boot after a fleet-wide outage: one coalesced catch-up; missed fires counted once', async (t) => {
  const fleet = new Fleet(START)
  const ledger = new Ledger()
  const join = (): Member => {
    const member = fleet.join({})
    const id = member.scheduler.instanceId
    const handler = (ctx: JobContext): void => { ledger.record(ctx, id, fleet.clock.now()) }
    member.scheduler.addJob({ id: 'coalesced', trigger: { interval: 60_000 }, handler })
    member.scheduler.addJob({ id: 'graced', trigger: { interval: 60_000 }, coalesce: false, maxInstances: 5, misfireGraceTime: 150_000, handler })
    member.scheduler.addJob({ id: 'strict', trigger: { interval: 60_000 }, misfireGraceTime: 1000, handler })
    return member
  }
  const first = [join(), join()]
  await Promise.all(first.map(async (member) => { await member.scheduler.start() }))
  await fleet.clock.tick(180_000)
  await Promise.all(first.map(async (member) => { await member.scheduler.shutdown() }))
  t.same(ledger.order.length, 9, 'three fires of each job before the outage')

  // Everything is down for an hour and a half minute.
  await fleet.clock.tick(3_630_000)
  const now = fleet.clock.now() - T0
  t.equal(now, 3_810_000)
  const second = [join(), join()]
  await Promise.all(second.map(async (member) => { await member.scheduler.start() }))
  await fleet.clock.tick(0)

  t.same(ledger.keys('coalesced'), ['coalesced 60000', 'coalesced 120000', 'coalesced 180000', 'coalesced 3780000'], 'one catch-up run, for the latest missed fire')
  t.same(ledger.keys('graced'), ['graced 60000', 'graced 120000', 'graced 180000', 'graced 3660000', 'graced 3720000', 'graced 3780000'], 'without coalesce, the fires within grace, in order')
  t.same(ledger.keys('strict'), ['strict 60000', 'strict 120000', 'strict 180000'], 'nothing within grace: nothing runs')
  t.same([...ledger.runs.values()].filter((ids) => ids.length !== 1), [], 'each once in the fleet')

  const stored = await fleet.store.readJobs(['coalesced', 'graced', 'strict'])
  t.same(stored.map((job) => [job.stats.runs, job.stats.missed, job.watermark]), [
    [4, 0, at(3_780_000)],
    [6, 57, at(3_780_000)],
    [3, 60, at(3_780_000)]
  ], 'missed fires counted once in the store (graced: 240,000 to 3,600,000; strict: to 3,780,000)')
  const missed = second.flatMap((member) => member.of('job:missed').map((event) => ({ ...event, by: member.scheduler.instanceId })))
  t.same(missed.map(({ id, count, scheduledAt }) => ({ id, count, scheduledAt: scheduledAt.getTime() - T0 })).sort((x, y) => x.id.localeCompare(y.id)), [
    { id: 'graced', count: 57, scheduledAt: 240_000 },
    { id: 'strict', count: 60, scheduledAt: 240_000 }
  ], 'job:missed emitted by one instance only, with the first missed fire')
  t.same(second.map((member) => member.scheduler.getJob('strict')?.stats.missed), [0, 0], 'before a refresh, each instance shows what it last read')
  await second[1].scheduler.refresh()
  t.equal(second[1].scheduler.getJob('strict')?.stats.missed, 60)
  await fleet.shutdown()
})

t.test('without coalesce, the fires of one wake within grace run in order, as without a store', async (t) => {
  // A sync handler: without a store each catch-up run ends before the next starts, so all run.
  const fleet = new Fleet(START)
  const ledger = new Ledger()
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'sync', trigger: { interval: 1000 }, coalesce: false, handler: (ctx) => { ledger.record(ctx, 'i1', fleet.clock.now()) } })
  await a.scheduler.start()
  await fleet.clock.jump(3500)
  t.same(ledger.keys('sync'), ['sync 1000', 'sync 2000', 'sync 3000'])
  // The ends of the first two went before the next claims; the last goes with its batch.
  t.same((await fleet.store.readJobs(['sync']))[0].stats, { runs: 3, successes: 2, failures: 0, missed: 0, skipped: 0 }, 'each end reached the store before the next fire of its job was claimed')
  await fleet.clock.tick(END_BATCH_MS)
  t.same((await fleet.store.readJobs(['sync']))[0].stats, { runs: 3, successes: 3, failures: 0, missed: 0, skipped: 0 })
  t.same(a.of('job:skipped'), [])
  await fleet.shutdown()
})

t.test('pause, resume and reschedule on one instance reach the others (notification, else polling)', async (t) => {
  const fleet = new Fleet(START)
  const ledger = new Ledger()
  const join = (): Member => {
    const member = fleet.join({ pollInterval: 5000 })
    const id = member.scheduler.instanceId
    member.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: (ctx) => { ledger.record(ctx, id, fleet.clock.now()) } })
    return member
  }
  const [a, b, c] = [join(), join(), join()]
  c.store.deaf = true
  for (const member of [a, b, c]) await member.scheduler.start()
  await fleet.clock.tick(3000)

  const status = a.scheduler.pauseJob('job')
  t.match(status, { paused: true, nextRunAt: null }, 'paused here at once')
  await fleet.clock.tick(0)
  t.match(b.scheduler.getJob('job'), { paused: true, nextRunAt: null }, 'another instance hears the notification')
  t.match(c.scheduler.getJob('job'), { paused: false, nextRunAt: iso(at(10_000)) }, 'one that lost it still has the fire queued')
  await fleet.clock.tick(2000)
  t.match(c.scheduler.getJob('job'), { paused: true, nextRunAt: null }, 'until its next poll')
  t.same(b.of('job:updated'), [], 'a change heard from the store is no local update event')

  await fleet.clock.tick(19_500) // 24,500
  b.scheduler.resumeJob('job')
  await fleet.clock.tick(0)
  t.match(a.scheduler.getJob('job'), { paused: false, nextRunAt: iso(at(34_500)), trigger: { anchor: iso(at(24_500)) } }, 'resume re-anchors the job for the fleet')
  t.match(b.scheduler.getJob('job'), { paused: false, nextRunAt: iso(at(34_500)) })
  t.match(c.scheduler.getJob('job'), { paused: true })
  await fleet.clock.tick(500)
  t.match(c.scheduler.getJob('job'), { paused: false, nextRunAt: iso(at(34_500)) })
  await fleet.clock.tick(10_000) // 35,000
  t.same(ledger.keys('job'), ['job 34500'], 'nothing ran while paused; the next fire from the new anchor ran once')

  c.scheduler.rescheduleJob('job', { interval: 4000 })
  await fleet.clock.tick(0)
  t.match(a.scheduler.getJob('job'), { trigger: { intervalMs: 4000, anchor: iso(at(35_000)) }, nextRunAt: iso(at(39_000)) }, 'reschedule reaches the others')
  await fleet.clock.tick(8000)
  t.same(ledger.keys('job'), ['job 34500', 'job 39000', 'job 43000'])
  t.same([...ledger.runs.values()].filter((ids) => ids.length !== 1), [])
  await fleet.shutdown()
})

t.test('a fire claimed after a fleet-wide pause is refused: no run', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  const b = fleet.join({ pollInterval: 60_000 })
  b.store.deaf = true
  for (const member of [a, b]) {
    member.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: () => { runs++ } })
    await member.scheduler.start()
  }
  await fleet.clock.tick(9000)
  a.scheduler.pauseJob('job')
  await fleet.clock.tick(0)
  t.equal(b.scheduler.getJob('job')?.nextRunAt, iso(at(10_000)), 'b did not hear of the pause')
  await fleet.clock.tick(1000)
  t.equal(runs, 0, 'b claimed the fire; the store answered paused')
  t.match(b.scheduler.getJob('job'), { paused: true, nextRunAt: null }, 'and b re-read the job')
  t.same(b.of('job:start'), [])
  t.equal((await fleet.store.readJobs(['job']))[0].watermark, null, 'the refused fire is not settled')
  await fleet.shutdown()
})

t.test('an instance that missed a resume or a redefinition claims no fire of the old schedule', async (t) => {
  const fleet = new Fleet(START)
  const ledger = new Ledger()
  const a = fleet.join({})
  const b = fleet.join({ pollInterval: 60_000 })
  b.store.deaf = true
  for (const member of [a, b]) {
    const id = member.scheduler.instanceId
    member.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: (ctx) => { ledger.record(ctx, id, fleet.clock.now()) } })
    await member.scheduler.start()
  }
  a.scheduler.pause() // a steps aside: only b would claim the old schedule's fire
  await fleet.clock.tick(3000)
  a.scheduler.pauseJob('job')
  await fleet.clock.tick(2000) // 5,000
  a.scheduler.resumeJob('job')
  await fleet.clock.tick(0)
  t.match(a.scheduler.getJob('job'), { nextRunAt: iso(at(15_000)) }, 'resumed: re-anchored at 5,000')
  t.match(b.scheduler.getJob('job'), { paused: false, nextRunAt: iso(at(10_000)) }, 'b heard of neither and still has the old fire queued')
  await fleet.clock.tick(5000) // 10,000
  t.same(ledger.keys('job'), [], 'b\'s claim of the old schedule\'s fire is refused as stale: nothing runs')
  t.match(b.scheduler.getJob('job'), { paused: false, nextRunAt: iso(at(15_000)) }, 'and b re-read the job: the new schedule')
  await fleet.clock.tick(5000) // 15,000
  t.same(ledger.keys('job'), ['job 15000'], 'the new schedule\'s fire runs')

  a.scheduler.rescheduleJob('job', { interval: 12_000 })
  await fleet.clock.tick(0)
  t.match(b.scheduler.getJob('job'), { nextRunAt: iso(at(25_000)) }, 'b did not hear of the reschedule either')
  await fleet.clock.tick(10_000) // 25,000
  t.same(ledger.keys('job'), ['job 15000'], 'its claim of the old interval\'s fire is refused too')
  t.match(b.scheduler.getJob('job'), { trigger: { intervalMs: 12_000 }, nextRunAt: iso(at(27_000)) }, 'and b follows the new definition')
  await fleet.clock.tick(2000) // 27,000
  t.same(ledger.keys('job'), ['job 15000', 'job 27000'])
  t.same([...ledger.runs.values()].filter((ids) => ids.length !== 1), [], 'each fire once')
  const stored = (await fleet.store.readJobs(['job']))[0]
  t.same([stored.watermark, stored.stats.runs, stored.stats.missed], [at(27_000), 2, 0], 'stale claims settled nothing and counted nothing')
  await fleet.shutdown()
})

t.test('a fire won for a job removed while its claim was on its way is not started: it ends at once as aborted', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  a.store.hang('claim')
  await fleet.clock.tick(10_000)
  t.equal(a.store.held, 1, 'the claim of 10,000 is on its way')
  a.scheduler.removeJob('job')
  a.store.release()
  await fleet.clock.tick(END_BATCH_MS)
  t.equal(runs, 0, 'won, but not started')
  t.same(a.of('job:start'), [])
  t.match((await fleet.store.readJobs(['job']))[0], {
    running: 0,
    watermark: at(10_000),
    lastRun: { status: 'aborted', error: { name: 'AbortError', message: 'Job "job" was not started: the job was removed from this instance' } }
  }, 'its lease is given back with the next batch of ends, not left to expire')
  await fleet.shutdown()
})

t.test('runJob and startRun with a store: claimed first; maxInstances counts the fleet', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const a = fleet.join({})
  const b = fleet.join({})
  for (const member of [a, b]) {
    member.scheduler.addJob({ id: 'quick', trigger: { interval: 3_600_000 }, handler: (ctx) => `ran ${ctx.id}` })
    member.scheduler.addJob({ id: 'long', trigger: { interval: 3_600_000 }, handler: open.handler(member.scheduler.instanceId) })
    await member.scheduler.start()
  }
  const handle = b.scheduler.startRun('quick')
  t.type(handle.runId, 'string')
  t.equal(await handle.started, handle.runId, 'started resolves with the run id once the claim is won')
  t.same(await handle.result, { runId: handle.runId, status: 'success', result: 'ran quick' })
  t.same(await a.scheduler.runJob('quick'), { runId: a.of('job:start')[0].runId, status: 'success', result: 'ran quick' })
  await fleet.clock.tick(0)
  await b.scheduler.refresh()
  t.match(b.scheduler.getJob('quick'), { stats: { runs: 2, successes: 2 }, lastRun: { instanceId: 'i1', status: 'success' } })

  const long = a.scheduler.runJob('long')
  await fleet.clock.tick(0)
  const skipped = b.scheduler.startRun('long')
  t.equal(await skipped.started, null, 'a run of it is live on another instance: skipped')
  t.same(await skipped.result, { runId: null, status: 'skipped' })
  t.same(await b.scheduler.runJob('long'), { runId: null, status: 'skipped' })
  t.same(b.of('job:skipped').map((event) => [event.id, event.reason, event.count]), [['long', 'max-instances', 1], ['long', 'max-instances', 1]])
  open.settle()
  t.match(await long, { status: 'success', result: 'done' })
  await fleet.clock.tick(0)
  await a.scheduler.refresh()
  t.match(a.scheduler.getJob('long'), { stats: { runs: 1, successes: 1, skipped: 2 }, running: 0 })
  await fleet.shutdown()
})

t.test('runJob and startRun while the store is unreachable reject with FST_SCHEDULER_STORE_UNAVAILABLE', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 3_600_000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  a.store.fail('claim')
  const unavailable = { code: 'FST_SCHEDULER_STORE_UNAVAILABLE', statusCode: 503, message: 'The memory store at memory is unavailable (run a job): not reachable' }
  const first = a.scheduler.startRun('job')
  await t.rejects(first.started, unavailable)
  await t.rejects(first.result, unavailable)
  // Each awaited alone: the other one must not be an unhandled rejection.
  await t.rejects(a.scheduler.startRun('job').result, unavailable)
  await t.rejects(a.scheduler.startRun('job').started, unavailable)
  await t.rejects(a.scheduler.runJob('job'), unavailable)
  await fleet.clock.tick(0)
  t.equal(runs, 0)
  t.equal(a.store.count('claim'), 1, 'the first failure marked the store unreachable: no claim is sent until it is back')
  t.equal(a.logs.filter((line) => line.level === 'error').length, 1)
  a.store.heal()
  await fleet.clock.tick(500)
  t.same(await a.scheduler.runJob('job'), { runId: a.of('job:start')[0].runId, status: 'success', result: undefined }, 'back after the retry')
  await fleet.shutdown()
})

t.test('maxInstances counts the fleet: a long run on one instance skips the next fires everywhere, reported once', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const members = [fleet.join({}), fleet.join({}), fleet.join({})]
  for (const member of members) {
    member.scheduler.addJob({ id: 'slow', trigger: { interval: 1000 }, handler: open.handler(member.scheduler.instanceId) })
    await member.scheduler.start()
  }
  await fleet.clock.tick(5000)
  const skipped = members.flatMap((member) => member.of('job:skipped'))
  t.same(skipped.map((event) => [event.scheduledAt.getTime() - T0, event.reason, event.count]), [[2000, 'max-instances', 1], [3000, 'max-instances', 1], [4000, 'max-instances', 1], [5000, 'max-instances', 1]], 'each skipped fire once in the fleet')
  t.equal(members.flatMap((member) => member.of('job:start')).length, 1)
  t.match((await fleet.store.readJobs(['slow']))[0], { running: 1, stats: { runs: 1, skipped: 4 } })
  open.settle()
  await fleet.clock.tick(1000)
  t.equal(members.flatMap((member) => member.of('job:start')).length, 2, 'the next fire after the run ended runs')
  t.match((await fleet.store.readJobs(['slow']))[0], { running: 1, stats: { runs: 2, successes: 1, skipped: 4 } })
  open.settle()
  await fleet.shutdown()
})

t.test('events in store mode: emitted by the instance that won the fire, with their payloads', async (t) => {
  const fleet = new Fleet(START)
  const boom = new Error('boom')
  const a = fleet.join({})
  const b = fleet.join({})
  for (const member of [a, b]) {
    member.scheduler.addJob({ id: 'ok', trigger: { interval: 10_000 }, handler: () => 42 })
    member.scheduler.addJob({ id: 'bad', trigger: { interval: 10_000 }, handler: () => { throw boom } })
    member.scheduler.addJob({ id: 'late', trigger: { interval: 1000 }, misfireGraceTime: 500, handler: () => {} })
    await member.scheduler.start()
  }
  await fleet.clock.tick(9999)
  await fleet.clock.jump(2001) // 12,000: 'late' fires 10,000 and 11,000 are over 500 ms late; 12,000 is on time
  const start = [...a.of('job:start'), ...b.of('job:start')].filter((event) => event.id === 'ok')
  t.match(start, [{ id: 'ok', runId: String, scheduledAt: new Date(at(10_000)), startedAt: new Date(at(12_000)) }], 'one job:start in the fleet')
  const ok = [...a.of('job:success'), ...b.of('job:success')].filter((event) => event.id === 'ok')
  t.match(ok, [{ id: 'ok', runId: start[0].runId, scheduledAt: new Date(at(10_000)), startedAt: new Date(at(12_000)), finishedAt: new Date(at(12_000)), durationMs: 0, result: 42 }], 'one job:success in the fleet')
  const bad = [...a.of('job:error'), ...b.of('job:error')]
  t.match(bad, [{ id: 'bad', scheduledAt: new Date(at(10_000)), status: 'error', error: boom }])
  const missed = [...a.of('job:missed'), ...b.of('job:missed')]
  t.same(missed, [{ id: 'late', scheduledAt: new Date(at(10_000)), count: 2 }], 'one job:missed in the fleet')
  await fleet.clock.tick(END_BATCH_MS)
  t.same((await fleet.store.readJobs(['late']))[0].stats, { runs: 10, successes: 10, failures: 0, missed: 2, skipped: 0 })
  t.same([...a.of('job:skipped'), ...b.of('job:skipped')], [])
  await fleet.shutdown()
})

t.test('options with a store are checked', async (t) => {
  const clock = new ManualClock(START)
  const store = new MemoryStore({ clock })
  for (const [options, message] of [
    [{ store: {} }, /^Invalid option store \{\}: expected a Store/],
    [{ store: { ...Object.fromEntries(['connect', 'close', 'now'].map((name) => [name, () => {}])), kind: 'x' } }, /^Invalid option store/],
    [{ store, leaseTime: 2 }, 'Invalid option leaseTime 2: must be a whole number of milliseconds >= 3'],
    [{ store, leaseTime: 1000.5 }, /leaseTime 1000.5/],
    [{ store, leaseTime: '30000' }, /leaseTime "30000"/],
    [{ store, pollInterval: 0 }, /pollInterval 0: must be a whole number/],
    [{ store, pollInterval: Number.POSITIVE_INFINITY }, /pollInterval Infinity/]
  ] as const) {
    t.throws(() => new Scheduler({ clock, ...options } as never), { code: 'FST_SCHEDULER_INVALID_OPTION', message })
  }
  const s = new Scheduler({ clock, store, leaseTime: 3, pollInterval: 3 })
  t.ok(s, 'the smallest lease and poll interval')
  t.throws(() => s.addJob({ id: 'custom', trigger: listTrigger([at(1000)]), handler: () => {} }), { code: 'FST_SCHEDULER_INVALID_JOB', message: /^Job "custom": invalid trigger .*a shared store needs a trigger spec/ })
  s.addJob({ id: 'spec', trigger: { interval: 1000 }, handler: () => {} })
  t.throws(() => s.rescheduleJob('spec', listTrigger([at(1000)])), { code: 'FST_SCHEDULER_INVALID_JOB', message: /^Job "spec"/ })
  t.match(s.getJob('spec'), { trigger: { type: 'interval' } }, 'unchanged')
  await s.shutdown()
})

t.test('a job added paused at runtime can be resumed (it is in the store)', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  await a.scheduler.start()
  a.scheduler.addJob({ id: 'later', trigger: { interval: 1000 }, paused: true, handler: () => { runs++ } })
  await fleet.clock.tick(0)
  a.scheduler.resumeJob('later')
  await fleet.clock.tick(3000)
  t.equal(runs, 3, 'it runs once resumed')
  t.match((await fleet.store.readJobs(['later'])), [{ id: 'later', paused: false }])
  await fleet.shutdown()
})

t.test('a pause for a job the store has lost (its rows were wiped) declares the job again, paused', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'j', trigger: { interval: 1000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  await fleet.clock.tick(1000)
  t.equal(runs, 1)
  // The store forgets everything (a new database, a flushed Redis).
  const wiped = new MemoryStore({ clock: fleet.clock })
  a.store.target = wiped
  a.scheduler.pauseJob('j')
  await fleet.clock.tick(3000)
  t.match(await wiped.readJobs(['j']), [{ id: 'j', paused: true }], 'declared again, with the pause')
  t.equal(runs, 1, 'and it stays paused')
  a.scheduler.resumeJob('j')
  await fleet.clock.tick(2000)
  t.equal(runs, 3, 'resumed through the new store')
  await fleet.shutdown()
})

t.test('a non-coalesced catch-up whose first fire is skipped (maxInstances): the later fires are claimed too, and skipped as well', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'busy', trigger: { interval: 1000 }, coalesce: false, handler: open.handler('i1') })
  await a.scheduler.start()
  const manual = a.scheduler.runJob('busy') // live for the whole catch-up: maxInstances 1
  await fleet.clock.tick(0)
  await fleet.clock.jump(3000)
  await fleet.clock.tick(0)
  t.equal(open.runs.length, 1, 'only the manual run')
  t.match(await fleet.store.readJobs(['busy']), [{ watermark: at(3000), stats: { runs: 1, skipped: 3 } }], 'each of the three fires skipped once')
  t.same(a.of('job:skipped').map((event) => [event.scheduledAt.getTime() - T0, event.reason]), [[1000, 'max-instances'], [2000, 'max-instances'], [3000, 'max-instances']])
  open.settle()
  await manual
  await fleet.shutdown()
})

t.test('a non-coalesced catch-up answered after the instance paused: the first fire runs, the rest are left to the fleet', async (t) => {
  const fleet = new Fleet(START)
  const runs: number[] = []
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'sync', trigger: { interval: 1000 }, coalesce: false, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - T0) } })
  await a.scheduler.start()
  a.store.hang('claim')
  await fleet.clock.jump(3000)
  t.equal(a.store.held, 1, 'the claim of the catch-up\'s first fire (1,000) is on its way; 2,000 and 3,000 wait for its answer')
  a.scheduler.pause()
  a.store.heal()
  a.store.release()
  await fleet.clock.tick(0)
  t.same(runs, [1000], 'the fire it won runs')
  t.equal(a.store.count('claim'), 1, 'the later fires are not claimed by a paused instance')
  t.match(await fleet.store.readJobs(['sync']), [{ watermark: at(1000), stats: { runs: 1 } }])
  await fleet.shutdown()
})

t.test('a non-coalesced catch-up of a sync handler runs every due fire in order, one claim after the other', async (t) => {
  const fleet = new Fleet(START)
  const runs: number[] = []
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'sync', trigger: { interval: 1000 }, coalesce: false, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - Date.parse(START)) } })
  await a.scheduler.start()
  await fleet.clock.tick(1000)
  await fleet.clock.jump(4000)
  await fleet.clock.tick(0)
  t.same(runs, [1000, 2000, 3000, 4000, 5000], 'each fire once, in order, none skipped by the run before it')
  t.match(await fleet.store.readJobs(['sync']), [{ stats: { runs: 5, skipped: 0 } }])
  await fleet.shutdown()
})

t.test('non-coalesced catch-ups of many jobs: each round of their claims is one round trip, whatever the number of jobs', async (t) => {
  const fleet = new Fleet(START)
  const runs: string[] = []
  const a = fleet.join({})
  const ids = ['x', 'y', 'z']
  for (const id of ids) a.scheduler.addJob({ id, trigger: { interval: 1000 }, coalesce: false, handler: (ctx) => { runs.push(`${id} ${ctx.scheduledAt.getTime() - T0}`) } })
  await a.scheduler.start()
  await fleet.clock.tick(1000)
  const before = a.store.count('claim')
  await fleet.clock.jump(3000) // 4,000: three fires of each job due in one wake
  await fleet.clock.tick(0)
  t.same(runs.slice(3), ['x 2000', 'y 2000', 'z 2000', 'x 3000', 'y 3000', 'z 3000', 'x 4000', 'y 4000', 'z 4000'], 'every fire of every job, in order')
  t.equal(a.store.count('claim') - before, 3, 'three claims: the wake\'s, then one per later fire, each for every job')
  t.equal(a.store.count('finish'), 3, 'each round\'s ends went before the next round')
  await fleet.shutdown()
})

t.test('a non-coalesced catch-up of a long run: the later fires are claimed together and skipped beyond maxInstances, as without a store', async (t) => {
  const fleet = new Fleet(START)
  const started: number[] = []
  const finish: Array<() => void> = []
  const a = fleet.join({})
  a.scheduler.addJob({
    id: 'long',
    trigger: { interval: 1000 },
    coalesce: false,
    maxInstances: 2,
    handler: async (ctx) => {
      started.push(ctx.scheduledAt.getTime() - Date.parse(START))
      await new Promise<void>((resolve) => { finish.push(resolve) })
    }
  })
  await a.scheduler.start()
  await fleet.clock.jump(3000)
  await fleet.clock.tick(0)
  t.same(started, [1000, 2000], 'the first fire and one more run (maxInstances 2)')
  t.match(await fleet.store.readJobs(['long']), [{ stats: { runs: 2, skipped: 1 } }], 'the third is skipped, once')
  t.equal(a.of('job:skipped').length, 1)
  for (const end of finish) end()
  await fleet.shutdown()
})

t.test('a job the store has lost while it fires is declared again by the next claim', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'j', trigger: { interval: 1000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  await fleet.clock.tick(1000)
  const wiped = new MemoryStore({ clock: fleet.clock })
  a.store.target = wiped
  await fleet.clock.tick(1000)
  t.equal(runs, 1, 'the claim found no job: nothing ran')
  t.match(await wiped.readJobs(['j']), [{ id: 'j' }], 'declared again')
  await fleet.clock.tick(3000)
  t.ok(runs >= 3, `it fires again (${runs} runs)`)
  await fleet.shutdown()
})

t.test('runJob right after addJob: the run is not skipped while the store learns of the job', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  await a.scheduler.start()
  a.store.hang('reconcile')
  a.scheduler.addJob({ id: 'new', trigger: { interval: 3_600_000 }, handler: () => 'ran' })
  const result = a.scheduler.runJob('new')
  // The declaration (one round trip) is slower than the claim (another).
  a.store.heal()
  a.store.release()
  await fleet.clock.tick(0)
  t.match(await result, { status: 'success', result: 'ran' })
  await fleet.shutdown()
})

t.test('an immediate interval fires at its stored anchor, once in the fleet', async (t) => {
  const fleet = new Fleet(START)
  const ledger = new Ledger()
  for (const member of [fleet.join({}), fleet.join({})]) {
    const id = member.scheduler.instanceId
    member.scheduler.addJob({ id: 'now', trigger: { interval: 10_000, immediate: true }, handler: (ctx) => { ledger.record(ctx, id, fleet.clock.now()) } })
    await member.scheduler.start()
  }
  await fleet.clock.tick(20_000)
  t.same(ledger.keys('now'), ['now 0', 'now 10000', 'now 20000'])
  t.same([...ledger.runs.values()].filter((ids) => ids.length !== 1), [])
  await fleet.shutdown()
})

t.test('notifications about jobs an instance does not run are ignored; answers for removed jobs too', async (t) => {
  const fleet = new Fleet(START)
  const a = fleet.join({})
  const b = fleet.join({})
  a.scheduler.addJob({ id: 'x', trigger: { interval: 60_000 }, handler: () => {} })
  b.scheduler.addJob({ id: 'y', trigger: { interval: 60_000 }, handler: () => {} })
  await a.scheduler.start()
  await b.scheduler.start()
  const reads = a.store.count('readJobs')
  b.scheduler.pauseJob('y')
  await fleet.clock.tick(0)
  t.equal(a.store.count('readJobs'), reads, 'a does not re-read a job it does not have')

  a.store.hang('changeJob')
  a.scheduler.pauseJob('x')
  t.ok(a.scheduler.removeJob('x'))
  a.store.heal()
  a.store.release()
  await fleet.clock.tick(0)
  t.equal(a.scheduler.getJob('x'), undefined, 'the answer for a job removed meanwhile is dropped')
  t.equal(a.logs.filter((line) => line.level === 'error').length, 0)
  t.match(await fleet.store.readJobs(['x']), [{ id: 'x', paused: true }], 'removing a job never deletes it from the store')
  await fleet.shutdown()
})

t.test('a stored definition this instance can\'t read leaves the job unscheduled here', async (t) => {
  const fleet = new Fleet(START)
  let runs = 0
  const a = fleet.join({})
  a.scheduler.addJob({ id: 'job', trigger: { interval: 1000 }, handler: () => { runs++ } })
  await a.scheduler.start()
  const stored = (await fleet.store.readJobs(['job']))[0]
  // A newer version of the code stored a trigger this one doesn't know.
  await fleet.store.changeJob('job', { definition: { ...stored.definition, trigger: { cron: '* * * * * * * *' } }, hash: 'from-the-future' })
  await fleet.clock.tick(0)
  t.match(a.logs.find((line) => line.level === 'error'), { obj: { jobId: 'job' }, msg: /can't read the stored definition/ })
  t.equal(a.scheduler.getJob('job')?.nextRunAt, null)
  await fleet.clock.tick(5000)
  t.equal(runs, 0)
  await fleet.shutdown()
})

t.test('the rest of the API with and without a store', async (t) => {
  const clock = new ManualClock(START)
  const local = new Scheduler({ clock, instanceId: 'local' })
  await local.refresh()
  local.start()
  await clock.tick(1000)
  t.same(local.getInstances(), [{ id: 'local', heartbeatAt: iso(at(1000)), startedAt: START }], 'without a store: this instance, started at start()')
  await local.shutdown()

  const withSystemClock = new Scheduler({ store: new MemoryStore(), instanceId: 'system' })
  t.throws(() => withSystemClock.addJob({ id: 'j', trigger: { interval: 1000 }, onLost: 'retry' as never, handler: () => {} }), { code: 'FST_SCHEDULER_INVALID_JOB', message: /onLost "retry": must be 'mark' or 'rerun'/ })
  withSystemClock.addJob({ id: 'j', trigger: { interval: 1000 }, onLost: 'rerun', handler: () => {} })
  t.same(withSystemClock.getInstances(), [], 'with a store, none before the first refresh')
  await withSystemClock.shutdown()
})
