/**
 * Shares on a shared store (lib/shares.ts): each job has one preferred
 * instance among the live ones, which claims its fires at the due time; the
 * others send their claims BACKUP_CLAIM_DELAY later, as backups, which find
 * the fire taken. A backup that wins (the share's instance lacks the job, is
 * paused, or died) makes its instance claim the job first from then on, until
 * a claim at the due time finds the fire taken again or the fleet changes.
 * A backup sent after a fire went past misfireGraceTime records it as missed.
 * Fleets as in scheduler-shared.test.ts: several Schedulers in this process on
 * one MemoryStore and one ManualClock, every claim and its outcome recorded.
 */
import t from 'tap'
import { BACKUP_CLAIM_DELAY } from '../lib/cluster.js'
import type { JobContext } from '../lib/job.js'
import type { TriggerSpec } from '../lib/triggers/trigger.js'
import type { Claim, ClaimOutcome } from '../lib/stores/store.js'
import { Fleet, StallableClock, jobOf, openRuns, shareOwner, type Member } from './helpers/flaky-store.js'

const START = '2026-01-05T00:00:00.000Z'
const T0 = Date.parse(START)
/** The instant `ms` after the start. */
const at = (ms: number): number => T0 + ms
const IDS = ['i1', 'i2', 'i3']

/** One claim as the store answered it; times in ms after the start. */
interface ClaimRecord {
  instance: string
  at: number
  jobId: string
  kind: Claim['kind']
  scheduledAt: number
  missed: number
  status: ClaimOutcome['status']
}

/** Every claim any member of the fleet makes, with the store's answer (members joined so far). */
function recordClaims (fleet: Fleet): ClaimRecord[] {
  const log: ClaimRecord[] = []
  const store = fleet.store
  const recording = new Proxy(store, {
    get (target, property) {
      if (property === 'claim') {
        return async (instanceId: string, claims: readonly Claim[], leaseMs: number): Promise<ClaimOutcome[]> => {
          const now = fleet.clock.now() - T0
          const outcomes = await target.claim(instanceId, claims, leaseMs)
          claims.forEach((claim, i) => {
            log.push({ instance: instanceId, at: now, jobId: claim.jobId, kind: claim.kind, scheduledAt: claim.scheduledAt - T0, missed: claim.missed, status: outcomes[i].status })
          })
          return outcomes
        }
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  for (const member of fleet.members) member.store.target = recording
  return log
}

/** One run: who ran which fire, and when (ms after the start). */
interface RunRecord {
  instance: string
  jobId: string
  scheduledAt: number
  at: number
}

/** A handler that records its runs in `runs`, for the member `instance`. */
function recorder (fleet: Fleet, runs: RunRecord[], instance: string): (ctx: JobContext) => void {
  return (ctx) => { runs.push({ instance, jobId: ctx.id, scheduledAt: ctx.scheduledAt.getTime() - T0, at: fleet.clock.now() - T0 }) }
}

/** A job's claims, as [instance, at, kind, scheduledAt, missed, status], in the order they were answered. */
function claimsOf (log: ClaimRecord[], jobId: string, instance?: string): Array<[string, number, string, number, number, string]> {
  return log
    .filter((claim) => claim.jobId === jobId && (instance === undefined || claim.instance === instance))
    .map((claim) => [claim.instance, claim.at, claim.kind, claim.scheduledAt, claim.missed, claim.status])
}

/** A job's runs, as [instance, scheduledAt, at]. */
function runsOf (runs: RunRecord[], jobId: string): Array<[string, number, number]> {
  return runs.filter((run) => run.jobId === jobId).map((run) => [run.instance, run.scheduledAt, run.at])
}

/** `count` fires every `period` ms from `from`. */
function fires (from: number, period: number, count: number): number[] {
  return Array.from({ length: count }, (_, k) => from + k * period)
}

/**
 * A fleet of two, started, where i1, whose share the job is, doesn't have it: only i2
 * claims it, by backups until one wins. The job is added on i2 with `options`.
 */
async function withoutItsOwner (options: { trigger: TriggerSpec, coalesce?: boolean, misfireGraceTime?: number }): Promise<{ fleet: Fleet, runs: RunRecord[], log: ClaimRecord[], job: string, backup: Member }> {
  const fleet = new Fleet(START)
  const runs: RunRecord[] = []
  const job = jobOf('i1', ['i1', 'i2'])
  const owner = fleet.join({ pollInterval: 60_000 })
  const backup = fleet.join({ pollInterval: 60_000 })
  const log = recordClaims(fleet)
  backup.scheduler.addJob({ id: job, ...options, handler: recorder(fleet, runs, 'i2') })
  await owner.scheduler.start()
  await backup.scheduler.start()
  return { fleet, runs, log, job, backup }
}

/** Three members, started, each with every one of `jobs` (every 10 s); their claims recorded. */
async function threeWith (jobs: string[], trigger: TriggerSpec = { interval: 10_000 }): Promise<{ fleet: Fleet, runs: RunRecord[], log: ClaimRecord[], members: Member[] }> {
  const fleet = new Fleet(START)
  const runs: RunRecord[] = []
  const members = IDS.map(() => fleet.join({ leaseTime: 3000, pollInterval: 60_000 }))
  const log = recordClaims(fleet)
  for (const member of members) {
    for (const jobId of jobs) member.scheduler.addJob({ id: jobId, trigger, handler: recorder(fleet, runs, member.scheduler.instanceId) })
    await member.scheduler.start()
  }
  return { fleet, runs, log, members }
}

t.test('a fleet of three: each job\'s fires run on its share\'s instance, on time; the others\' backups find them taken', async (t) => {
  const jobs = Array.from({ length: 9 }, (_, i) => `job-${i}`)
  const owner = new Map(jobs.map((jobId) => [jobId, shareOwner(jobId, IDS) as string]))
  t.same([...new Set(owner.values())].sort(), IDS, 'the jobs spread over all three instances')
  const { fleet, runs, log, members } = await threeWith(jobs)
  await fleet.clock.tick(1000) // a heartbeat: every member knows all three now
  await fleet.clock.tick(59_000 + BACKUP_CLAIM_DELAY)

  const due = fires(10_000, 10_000, 6)
  for (const jobId of jobs) {
    const mine = owner.get(jobId) as string
    t.same(runsOf(runs, jobId), due.map((fire) => [mine, fire, fire]), `${jobId}: every fire once, on ${mine}, on time`)
    const expected = due.flatMap((fire) => [
      [mine, fire, 'fire', fire, 0, 'run'],
      ...IDS.filter((id) => id !== mine).map((id) => [id, fire + BACKUP_CLAIM_DELAY, 'fire', fire, 0, 'taken'])
    ])
    t.same(claimsOf(log, jobId), expected, `${jobId}: claimed by ${mine} at the due time; the others' backups ${BACKUP_CLAIM_DELAY} ms later find it taken`)
  }
  for (const member of members) {
    t.same(member.store.times('claim').map((time) => time - T0), due.flatMap((fire) => [fire, fire + BACKUP_CLAIM_DELAY]), `${member.scheduler.instanceId}: one round trip for its share at each due time, one for its backups`)
  }
  const stored = await fleet.store.readJobs(jobs)
  t.ok(stored.every((job) => job.stats.runs === 6 && job.stats.missed === 0 && job.stats.skipped === 0), 'the store counts each fire once')
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('an instance alone claims every job first; a fleet listed again unchanged keeps each job where it was', async (t) => {
  const fleet = new Fleet(START)
  const runs: RunRecord[] = []
  const solo = fleet.join({ leaseTime: 3000, pollInterval: 60_000 })
  const log = recordClaims(fleet)
  solo.scheduler.addJob({ id: 'job', trigger: { interval: 10_000 }, handler: recorder(fleet, runs, 'i1') })
  await solo.scheduler.start()
  await fleet.clock.tick(30_000) // ten heartbeats, each listing the same fleet of one
  t.same(runsOf(runs, 'job'), fires(10_000, 10_000, 3).map((fire) => ['i1', fire, fire]), 'on time: no backup delay for a fleet of one')
  t.same(claimsOf(log, 'job').map((claim) => claim[1]), [10_000, 20_000, 30_000])
  await fleet.shutdown()
})

t.test('the share\'s instance lacks the job: the first fire runs late by a backup, then on time on that instance', async (t) => {
  const fleet = new Fleet(START)
  const runs: RunRecord[] = []
  const job = jobOf('i1', IDS, 'elsewhere')
  const own = jobOf('i1', IDS, 'own')
  const members = IDS.map(() => fleet.join({ leaseTime: 3000, pollInterval: 60_000 }))
  const log = recordClaims(fleet)
  // i1, whose share `job` is, runs another version of the code: it has `own` only.
  members[0].scheduler.addJob({ id: own, trigger: { interval: 10_000 }, handler: recorder(fleet, runs, 'i1') })
  for (const member of members.slice(1)) member.scheduler.addJob({ id: job, trigger: { interval: 10_000 }, handler: recorder(fleet, runs, member.scheduler.instanceId) })
  for (const member of members) await member.scheduler.start()
  await fleet.clock.tick(1000)
  await fleet.clock.tick(39_000 + BACKUP_CLAIM_DELAY)

  const promoted = runs.find((run) => run.jobId === job)?.instance as string
  const other = promoted === 'i2' ? 'i3' : 'i2'
  t.ok(['i2', 'i3'].includes(promoted), `the first fire ran on ${promoted}`)
  t.same(runsOf(runs, job), [[promoted, 10_000, 10_000 + BACKUP_CLAIM_DELAY], [promoted, 20_000, 20_000], [promoted, 30_000, 30_000], [promoted, 40_000, 40_000]], `the first fire ${BACKUP_CLAIM_DELAY} ms late, then each on time, on the instance whose backup won`)
  t.same(claimsOf(log, job, promoted).map((claim) => [claim[1], claim[5]]), [[10_500, 'run'], [20_000, 'run'], [30_000, 'run'], [40_000, 'run']], `${promoted} claims it first after its backup won`)
  t.same(claimsOf(log, job, other).map((claim) => [claim[1], claim[5]]), [[10_500, 'taken'], [20_500, 'taken'], [30_500, 'taken'], [40_500, 'taken']], `${other} goes on with backups: its backup lost, it claims nothing first`)
  t.same(runsOf(runs, own), fires(10_000, 10_000, 4).map((fire) => ['i1', fire, fire]), 'i1 runs its own job on time')
  t.same(claimsOf(log, own).map((claim) => claim[0]), ['i1', 'i1', 'i1', 'i1'], 'which nobody else has')
  t.same([...new Set(runs.map((run) => `${run.jobId} ${run.scheduledAt}`))].length, runs.length, 'nothing ran twice')
  await fleet.shutdown()
})

t.test('a backup answered skipped (maxInstances) also makes its instance claim the job first', async (t) => {
  const fleet = new Fleet(START)
  const open = openRuns(T0)
  const job = jobOf('i1', IDS)
  const members = IDS.map(() => fleet.join({ leaseTime: 3000, pollInterval: 60_000 }))
  const log = recordClaims(fleet)
  // i1, whose share the job is, lacks it.
  for (const member of members.slice(1)) member.scheduler.addJob({ id: job, trigger: { interval: 10_000 }, handler: open.handler(member.scheduler.instanceId) })
  for (const member of members) await member.scheduler.start()
  const manual = members[2].scheduler.runJob(job) // a run of it is live: maxInstances 1 is reached
  await fleet.clock.tick(10_000 + BACKUP_CLAIM_DELAY)
  const fired = (): Array<[string, number, string]> => claimsOf(log, job).filter((claim) => claim[2] === 'fire').map((claim) => [claim[0], claim[1], claim[5]])
  const backups = fired()
  const winner = backups.find((claim) => claim[2] === 'skipped')?.[0] as string
  const loser = winner === 'i2' ? 'i3' : 'i2'
  t.same(backups, [[winner, 10_500, 'skipped'], [loser, 10_500, 'taken']].sort((a, b) => a[0] < b[0] ? -1 : 1), 'one backup settles the fire as skipped')
  t.match(members[IDS.indexOf(winner)].of('job:skipped'), [{ id: job, scheduledAt: new Date(at(10_000)), reason: 'max-instances', count: 1 }])
  open.settle()
  await manual
  await fleet.clock.tick(10_000) // 20,500
  t.same(fired().slice(2), [[winner, 20_000, 'run'], [loser, 20_500, 'taken']], `${winner} claims the next fire first`)
  open.settle()
  await fleet.shutdown()
})

t.test('the share\'s instance pauses: one late fire, then on time elsewhere; back, it claims first and the other returns to backups', async (t) => {
  const job = jobOf('i1', IDS)
  const { fleet, runs, log, members } = await threeWith([job])
  await fleet.clock.tick(15_000)
  members[0].scheduler.pause()
  await fleet.clock.tick(20_000) // 35,000
  // Resumed: at 40,000 i1 and the promoted instance both claim at the due time; i1's claim
  // reaches the store first (its timer was armed first, and the clock fires ties in that order).
  members[0].scheduler.resume()
  await fleet.clock.tick(25_000 + BACKUP_CLAIM_DELAY) // 60,500

  const promoted = runs.find((run) => run.instance !== 'i1')?.instance as string
  const other = promoted === 'i2' ? 'i3' : 'i2'
  t.same(runsOf(runs, job), [
    ['i1', 10_000, 10_000],
    [promoted, 20_000, 20_000 + BACKUP_CLAIM_DELAY],
    [promoted, 30_000, 30_000],
    ['i1', 40_000, 40_000],
    ['i1', 50_000, 50_000],
    ['i1', 60_000, 60_000]
  ], 'one fire late while i1 is paused, then on time; i1 runs its share again once resumed')
  t.same(claimsOf(log, job, 'i1').map((claim) => [claim[1], claim[5]]), [[10_000, 'run'], [40_000, 'run'], [50_000, 'run'], [60_000, 'run']], 'a paused instance claims nothing')
  t.same(claimsOf(log, job, promoted).map((claim) => [claim[1], claim[5]]), [
    [10_500, 'taken'],
    [20_500, 'run'], // its backup won: i1 didn't claim
    [30_000, 'run'], // so it claims the job first
    [40_000, 'taken'], // i1 was first again
    [50_500, 'taken'], // back to backups
    [60_500, 'taken']
  ], `${promoted}: promoted by its winning backup, demoted by its first claim found taken`)
  t.same(claimsOf(log, job, other).map((claim) => [claim[1], claim[5]]), fires(10_500, 10_000, 6).map((time) => [time, 'taken']), `${other}: backups throughout`)
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('an instance that shuts down leaves the fleet: its jobs move to the others and run on time; no other job moves', async (t) => {
  const jobs = IDS.map((id) => jobOf(id, IDS))
  const heir = shareOwner(jobs[0], ['i2', 'i3']) as string
  const { fleet, runs, log, members } = await threeWith(jobs)
  await fleet.clock.tick(15_000)
  await members[0].scheduler.shutdown()
  t.same((await fleet.store.instances(3000)).map((instance) => instance.id).sort(), ['i2', 'i3'], 'i1 left the store\'s list')
  await fleet.clock.tick(25_000 + BACKUP_CLAIM_DELAY) // 40,500; the others dropped i1 at their next heartbeat (16,000)

  const due = fires(10_000, 10_000, 4)
  t.same(runsOf(runs, jobs[0]), due.map((fire) => [fire === 10_000 ? 'i1' : heir, fire, fire]), `i1's job moves to ${heir} and runs on time`)
  t.same(runsOf(runs, jobs[1]), due.map((fire) => ['i2', fire, fire]), 'i2\'s job stays on i2')
  t.same(runsOf(runs, jobs[2]), due.map((fire) => ['i3', fire, fire]), 'i3\'s job stays on i3')
  const heirs = ['i2', 'i3'].filter((id) => id !== heir)
  t.same(claimsOf(log, jobs[0]).filter((claim) => claim[1] > 15_000).map((claim) => [claim[0], claim[1], claim[5]]), due.slice(1).flatMap((fire) => [[heir, fire, 'run'], [heirs[0], fire + BACKUP_CLAIM_DELAY, 'taken']]), `${heir} claims it first, the other as a backup`)
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('an instance that stops without leaving: once its heartbeat is a lease old its jobs move; one fire late at most', async (t) => {
  const fleet = new Fleet(START)
  const runs: RunRecord[] = []
  // i1's share, and i3's once i1 is gone.
  const job = Array.from({ length: 64 }, (_, i) => `moving-${i}`).find((id) => shareOwner(id, IDS) === 'i1' && shareOwner(id, ['i2', 'i3']) === 'i3') as string
  const stalled = new StallableClock(fleet.clock)
  const members = IDS.map((id) => fleet.join(id === 'i1' ? { clock: stalled, leaseTime: 9000, pollInterval: 60_000 } : { leaseTime: 9000, pollInterval: 60_000 }))
  const log = recordClaims(fleet)
  for (const member of members) {
    member.scheduler.addJob({ id: job, trigger: { interval: 10_000 }, handler: recorder(fleet, runs, member.scheduler.instanceId) })
    await member.scheduler.start()
  }
  await fleet.clock.tick(12_500) // i1 ran the fire of 10,000 and heartbeat at 12,000
  stalled.stall()
  await fleet.clock.tick(8000) // 20,500: still listed (12,000 is within the lease of 9,000)
  t.same((await fleet.store.instances(9000)).map((instance) => instance.id).sort(), IDS)
  await fleet.clock.tick(20_000) // 40,500; dropped at the heartbeat of 24,000

  // Of the two backups at 20,500, i2's reaches the store first (its timer was armed first).
  t.same(runsOf(runs, job), [['i1', 10_000, 10_000], ['i2', 20_000, 20_000 + BACKUP_CLAIM_DELAY], ['i3', 30_000, 30_000], ['i3', 40_000, 40_000]], 'one fire late (i2\'s backup won), then on time on i3, its share in the fleet without i1')
  t.same(claimsOf(log, job).filter((claim) => claim[1] > 20_000).map((claim) => [claim[0], claim[1], claim[5]]), [
    ['i2', 20_500, 'run'],
    ['i3', 20_500, 'taken'],
    ['i3', 30_000, 'run'],
    ['i2', 30_500, 'taken'],
    ['i3', 40_000, 'run'],
    ['i2', 40_500, 'taken']
  ], 'the fleet changed: i3 claims it first; i2, promoted by its backup, is back to backups')
  await stalled.resume()
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0)
})

t.test('misfireGraceTime shorter than the backup delay: the backup records the fire as missed, nothing runs', async (t) => {
  // i1 lacks the job: only i2's backup claims it.
  const { fleet, runs, log, job, backup } = await withoutItsOwner({ trigger: { interval: 10_000 }, misfireGraceTime: 200 })
  await fleet.clock.tick(10_000 + BACKUP_CLAIM_DELAY)
  t.same(runs, [], 'nothing ran: 500 ms late is past the grace of 200 ms')
  t.same(claimsOf(log, job), [['i2', 10_500, 'missed', 10_000, 1, 'missed']], 'the backup claims the fire as missed')
  t.same(backup.of('job:missed'), [{ id: job, scheduledAt: new Date(at(10_000)), count: 1 }])
  t.same(backup.of('job:start'), [])
  t.match((await fleet.store.readJobs([job]))[0], { watermark: at(10_000), stats: { runs: 0, missed: 1 } }, 'counted once in the store')
  await fleet.clock.tick(9500) // 20,000
  t.same(runsOf(runs, job), [['i2', 20_000, 20_000]], 'its backup won (as missed): it claims the job first from then on, on time')
  t.same(claimsOf(log, job).slice(1), [['i2', 20_000, 'fire', 20_000, 0, 'run']])
  await fleet.shutdown()
})

t.test('misfireGraceTime longer than the backup delay, the share\'s instance paused: the backup runs the fire', async (t) => {
  const fleet = new Fleet(START)
  const runs: RunRecord[] = []
  const job = jobOf('i1', ['i1', 'i2'])
  const members = [fleet.join({ pollInterval: 60_000 }), fleet.join({ pollInterval: 60_000 })]
  const log = recordClaims(fleet)
  for (const member of members) {
    // Grace 600 ms: a backup (500 ms late) still runs the fire.
    member.scheduler.addJob({ id: job, trigger: { interval: 10_000 }, misfireGraceTime: 600, handler: recorder(fleet, runs, member.scheduler.instanceId) })
    await member.scheduler.start()
  }
  members[0].scheduler.pause()
  await fleet.clock.tick(10_000 + BACKUP_CLAIM_DELAY)
  t.same(claimsOf(log, job), [['i2', 10_500, 'fire', 10_000, 0, 'run']], 'within grace: the backup claims it to run')
  t.same(runsOf(runs, job), [['i2', 10_000, 10_500]])
  t.same(members[1].of('job:missed'), [])
  await fleet.shutdown()
})

t.test('coalesce false, several fires due at one wake: the backup runs those still within grace and counts the others as missed', async (t) => {
  // i1 lacks the job. Three fires, 400 ms apart; a grace of 1,000 ms.
  const { fleet, runs, log, job, backup } = await withoutItsOwner({ trigger: { interval: 400, endAt: at(1200) }, coalesce: false, misfireGraceTime: 1000 })
  // The event loop is blocked until 1,300: the fires of 400, 800 and 1,200 are due at one
  // wake, all within grace then (400 is 900 ms late); by the backup (1,800) 400 is past it.
  await fleet.clock.jump(1300)
  t.same(claimsOf(log, job), [], 'held as a backup')
  await fleet.clock.tick(BACKUP_CLAIM_DELAY) // 1,800
  t.same(claimsOf(log, job), [
    ['i2', 1800, 'fire', 800, 1, 'run'],
    ['i2', 1800, 'fire', 1200, 0, 'run']
  ], 'the first fire within grace is claimed with the missed count, the rest after it')
  t.same(runsOf(runs, job), [['i2', 800, 1800], ['i2', 1200, 1800]])
  t.same(backup.of('job:missed'), [{ id: job, scheduledAt: new Date(at(400)), count: 1 }], 'the fire of 400 is missed, reported by its own time')
  t.match((await fleet.store.readJobs([job]))[0], { watermark: at(1200), stats: { runs: 2, missed: 1 } })
  await fleet.shutdown()
})

t.test('coalesce false, several fires due at one wake: all past grace by the backup → one missed claim for them all', async (t) => {
  // i1 lacks the job. Three fires, 100 ms apart; a grace of 300 ms.
  const { fleet, runs, log, job, backup } = await withoutItsOwner({ trigger: { interval: 100, endAt: at(300) }, coalesce: false, misfireGraceTime: 300 })
  // Blocked until 350: the fires of 100, 200 and 300 are due, all within grace (100 is 250 ms
  // late); by the backup (850) all are past it.
  await fleet.clock.jump(350)
  await fleet.clock.tick(BACKUP_CLAIM_DELAY) // 850
  t.same(claimsOf(log, job), [['i2', 850, 'missed', 300, 3, 'missed']], 'one claim records the three as missed, at the last one')
  t.same(runs, [])
  t.same(backup.of('job:missed'), [{ id: job, scheduledAt: new Date(at(100)), count: 3 }], 'reported from the first of them')
  t.match((await fleet.store.readJobs([job]))[0], { watermark: at(300), stats: { runs: 0, missed: 3 } })
  await fleet.shutdown()
})

t.test('a wake whose fires are all past grace already: its missed claim goes out as a backup unchanged', async (t) => {
  const { fleet, runs, log, job, backup } = await withoutItsOwner({ trigger: { interval: 10_000 }, misfireGraceTime: 3000 })
  await fleet.clock.jump(25_000) // 10,000 and 20,000 both past grace at the wake
  await fleet.clock.tick(5000)
  t.same(claimsOf(log, job)[0], ['i2', 25_000 + BACKUP_CLAIM_DELAY, 'missed', 20_000, 2, 'missed'], `the wake's missed claim, ${BACKUP_CLAIM_DELAY} ms later`)
  t.same(backup.of('job:missed'), [{ id: job, scheduledAt: new Date(at(10_000)), count: 2 }])
  t.same(runsOf(runs, job), [['i2', 30_000, 30_000]], 'neither fire ran; the next one runs on time (the missed backup won: i2 claims first now)')
  await fleet.shutdown()
})

t.test('a late wake with a missed fire and one within grace that is past grace by the backup: all counted as missed', async (t) => {
  const { fleet, runs, log, job, backup } = await withoutItsOwner({ trigger: { interval: 10_000 }, misfireGraceTime: 6200 })
  // Blocked until 26,000: 10,000 is past grace (16,000 ms late), 20,000 within (6,000 ms); by the backup (26,500) it is 6,500 ms late.
  await fleet.clock.jump(26_000)
  await fleet.clock.tick(BACKUP_CLAIM_DELAY) // 26,500
  t.same(claimsOf(log, job).slice(0, 1), [['i2', 26_500, 'missed', 20_000, 2, 'missed']])
  t.same(backup.of('job:missed'), [{ id: job, scheduledAt: new Date(at(10_000)), count: 2 }], 'reported from the first missed fire, the wake\'s')
  t.same(runsOf(runs, job).filter((run) => run[1] < 30_000), [])
  await fleet.shutdown()
})

t.test('a late wake with a missed fire and one still within grace at the backup: that one runs', async (t) => {
  const { fleet, runs, log, job, backup } = await withoutItsOwner({ trigger: { interval: 10_000 }, misfireGraceTime: 15_000 })
  // Blocked until 26,000: 10,000 is past grace (16,000 ms late), 20,000 within (6,000 ms); by the backup (26,500) it is
  // 6,500 ms late, still within the grace of 15,000 ms: it must run, as the share's instance would have run it.
  await fleet.clock.jump(26_000)
  await fleet.clock.tick(BACKUP_CLAIM_DELAY) // 26,500
  t.same(claimsOf(log, job).slice(0, 1), [['i2', 26_500, 'fire', 20_000, 1, 'run']], 'the fire of 20,000 claimed to run, with 10,000 counted missed')
  t.same(runsOf(runs, job).filter((run) => run[1] < 30_000), [['i2', 20_000, 26_500]], 'the fire of 20,000 runs')
  t.same(backup.of('job:missed'), [{ id: job, scheduledAt: new Date(at(10_000)), count: 1 }], 'only the fire of 10,000 is missed')
  await fleet.shutdown()
})

t.test('a backup is sent halfway to its job\'s next wake when that is nearer than the backup delay', async (t) => {
  const { fleet, runs, log, job, backup } = await withoutItsOwner({ trigger: { interval: 1000 }, misfireGraceTime: 1500 })
  // Blocked until 2,600: 1,000 is past grace, 2,000 within; the next fire is at 3,000, 400 ms away.
  await fleet.clock.jump(2600)
  await fleet.clock.tick(200) // 2,800
  t.same(claimsOf(log, job), [['i2', 2800, 'fire', 2000, 1, 'run']], 'the backup goes at 2,800, before the next wake could claim 3,000 first')
  t.same(runsOf(runs, job), [['i2', 2000, 2800]])
  t.same(backup.of('job:missed'), [{ id: job, scheduledAt: new Date(at(1000)), count: 1 }], 'the fire of 1,000 is missed')
  await fleet.clock.tick(200) // 3,000: the backup won, so i2 claims the job first now
  t.same(runsOf(runs, job), [['i2', 2000, 2800], ['i2', 3000, 3000]])
  await fleet.shutdown()
})

t.test('an interval shorter than the backup delay: no fire is lost when the instance starts claiming first', async (t) => {
  // i1 lacks the job; fires every 400 ms, less than the backup delay. A backup goes out halfway
  // to the job's next fire (the backup of 400 at 600), so that once it won and i2 claims the job
  // first, no claim of a later fire overtakes a backup still waiting: the store's watermark would
  // pass that fire unclaimed.
  const { fleet, runs, log, job } = await withoutItsOwner({ trigger: { interval: 400 } })
  await fleet.clock.tick(4000)
  t.same(runsOf(runs, job).map((run) => run[1]), fires(400, 400, 10), 'every fire ran')
  t.same(claimsOf(log, job).filter((claim) => claim[5] !== 'run'), [], 'no claim of it was refused')
  const stored = (await fleet.store.readJobs([job]))[0]
  t.equal(stored.stats.runs + stored.stats.missed, 10, 'each fire is run or counted as missed')
  await fleet.shutdown()
})

t.test('after its first fire, a job another instance claims first wakes this one at its backup time only: nothing of it is done in the burst at the due time', async (t) => {
  const job = jobOf('i1', IDS)
  const { fleet, log, members } = await threeWith([job])
  await fleet.clock.tick(1000) // a heartbeat: every member knows all three now
  await fleet.clock.tick(9200) // 10,200: the first fire's backups wait on timers, from the wake at the due time
  const backupTimers = (): number => fleet.clock.armed.filter((delay) => delay === BACKUP_CLAIM_DELAY).length
  t.equal(backupTimers(), 2, 'i2 and i3 woke at 10,000 and armed their backups')
  await fleet.clock.tick(9900) // 20,100
  t.equal(backupTimers(), 0, 'at 20,000 neither woke: their wakes for it are at 20,500')
  t.same(members.map((member) => member.scheduler.getJob(job)?.nextRunAt), [30_000, 20_000, 20_000].map((at) => new Date(T0 + at).toISOString()), 'i1 has claimed 20,000; the others show it as their next fire, at its due time')
  await fleet.clock.tick(400) // 20,500
  t.same(claimsOf(log, job).filter((claim) => claim[1] >= 20_000).map((claim) => [claim[0], claim[1], claim[5]]), [['i1', 20_000, 'run'], ['i2', 20_500, 'taken'], ['i3', 20_500, 'taken']], 'their backups went out at 20,500')
  await fleet.shutdown()
})

t.test('the last fire of a series that ends is deferred the whole backup delay on the backups', async (t) => {
  const job = jobOf('i1', IDS)
  const { fleet, runs, log } = await threeWith([job], { interval: 10_000, endAt: new Date(T0 + 20_000).toISOString() })
  await fleet.clock.tick(1000)
  await fleet.clock.tick(19_500) // 20,500
  t.same(claimsOf(log, job).map((claim) => [claim[0], claim[1], claim[5]]), [['i1', 10_000, 'run'], ['i2', 10_500, 'taken'], ['i3', 10_500, 'taken'], ['i1', 20_000, 'run'], ['i2', 20_500, 'taken'], ['i3', 20_500, 'taken']])
  t.same(runsOf(runs, job), [['i1', 10_000, 10_000], ['i1', 20_000, 20_000]])
  await fleet.shutdown()
})

t.test('shutdown clears a pending backup timer; a backup of an instance paused meanwhile sends nothing', async (t) => {
  const job = jobOf('i1', IDS)
  const { fleet, runs, log, members } = await threeWith([job])
  members[0].scheduler.pause() // the share's instance doesn't claim
  await fleet.clock.tick(10_200)
  members[1].scheduler.pause() // i2's backup (due 10,500) is pending
  await fleet.clock.tick(300) // 10,500
  t.same(claimsOf(log, job).map((claim) => [claim[0], claim[1], claim[5]]), [['i3', 10_500, 'run']], 'only i3\'s backup went out')
  t.same(runsOf(runs, job), [['i3', 10_000, 10_500]])
  members[1].scheduler.resume()
  await fleet.clock.tick(10_000) // 20,500
  t.same(claimsOf(log, job).slice(1).map((claim) => [claim[0], claim[1], claim[5]]), [['i3', 20_000, 'run'], ['i2', 20_500, 'taken']], 'i3 was promoted; i2, whose backup was dropped, was not')

  await fleet.clock.tick(9700) // 30,200: i2's backup for 30,000 is pending, its wake deferred to 30,500
  const sent = members[1].store.count('claim')
  await members[1].scheduler.shutdown()
  await fleet.clock.tick(1000)
  t.equal(members[1].store.count('claim'), sent, 'i2 shut down before its deferred wake: nothing was sent')
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0, 'no timer left behind')
})

t.test('shutdown clears a pending backup timer (a wake not deferred: the first after the start)', async (t) => {
  const job = jobOf('i1', IDS)
  const { fleet, log, members } = await threeWith([job])
  await fleet.clock.tick(10_200) // i2's and i3's backups for 10,000 are pending
  const backupTimers = (): number => fleet.clock.armed.filter((delay) => delay === BACKUP_CLAIM_DELAY).length
  t.equal(backupTimers(), 2, 'a backup timer is armed on i2 and on i3')
  const sent = members[1].store.count('claim')
  await members[1].scheduler.shutdown()
  t.equal(backupTimers(), 1, 'shutdown cleared i2\'s')
  await fleet.clock.tick(1000)
  t.equal(members[1].store.count('claim'), sent, 'and nothing was sent')
  t.same(claimsOf(log, job).map((claim) => [claim[0], claim[1], claim[5]]), [['i1', 10_000, 'run'], ['i3', 10_500, 'taken']], 'i3\'s backup went out')
  await fleet.shutdown()
  t.equal(fleet.clock.pending, 0, 'no timer left behind')
})

t.test('a backup of a job removed meanwhile does not run it', async (t) => {
  const fleet = new Fleet(START)
  const runs: RunRecord[] = []
  const job = jobOf('i1', ['i1', 'i2'])
  const members: Member[] = [fleet.join({ pollInterval: 60_000 }), fleet.join({ pollInterval: 60_000 })]
  for (const member of members) {
    member.scheduler.addJob({ id: job, trigger: { interval: 10_000 }, handler: recorder(fleet, runs, member.scheduler.instanceId) })
    await member.scheduler.start()
  }
  members[0].scheduler.pause()
  await fleet.clock.tick(10_200) // i2's backup for 10,000 is pending
  members[1].scheduler.removeJob(job)
  await fleet.clock.tick(300)
  // As for a wake's fires without a store (JobRecord.removed): a run of a removed job must not start.
  t.same(runs, [], 'i2 removed the job before its backup went out: no run of it starts there')
  t.same(members[1].of('job:start'), [], 'and no job:start for it')
  await fleet.shutdown()
})
