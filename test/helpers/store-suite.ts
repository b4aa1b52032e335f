/**
 * The Store contract's shared suite (lib/stores/store.ts): the memory,
 * PostgreSQL and Redis stores all run these tests, through the Store interface
 * only. Every subtest works on a fresh namespace with handles of its own (two
 * handles on one namespace are two instances of one fleet) and drops it at the
 * end. Nothing waits on the wall clock: times come from the store's clock
 * (`now()`), a claim at now - 1 is due and one at now + LATER is early, and a
 * lease of 0 ms has expired at once (a lease is live while it is > now). The
 * concurrency subtests run claims, sweeps and reconciles of several handles at
 * once (Promise.all) and check the invariants that hold in any interleaving;
 * their claims go through decide(), which sends claims answered 'busy' again.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { DEFAULT_JOB_OPTIONS, type JobOptions } from '../../lib/job.js'
import {
  isStore,
  type Claim,
  type ClaimOutcome,
  type DeclaredJob,
  type LostRun,
  type RunEnd,
  type SharedDefinition,
  type Store,
  type StoredJob
} from '../../lib/stores/store.js'

export interface StoreFactory {
  /**
   * A new Store handle (its own connection) on the shared data named `namespace`; called twice = two instances on the same data.
   * Namespaces are made of lowercase letters and digits, start with a letter and are at most 16 characters long.
   */
  open (namespace: string): Store
  /** Removes everything stored under `namespace`. */
  drop (namespace: string): Promise<void>
}

/** A lease that outlives any test, and how far ahead an early fire is. */
const LATER = 60_000
/** Tolerance (ms) between two reads of the store's clock and a time the store set in between (rounding). */
const SLACK = 5
/** The store's clock may differ from this machine's by this much (it is the same machine or a local server). */
const CLOCK_SKEW = 5_000

/** The handles of one subtest, all on its own fresh namespace. */
interface Fleet {
  stores: Store[]
  /** Opens and connects one more handle on the namespace. */
  open: () => Promise<Store>
  /** Closes a handle before the end of the subtest. */
  close: (store: Store) => Promise<void>
}

type Status = ClaimOutcome['status']

/** The part of a StoredJob that reconcile and changeJob set, to compare whole. */
type Shape = Omit<StoredJob, 'anchorAt'>

export async function storeSuite (t: Test, factory: StoreFactory): Promise<void> {
  /** `count` connected handles on a new namespace; closed and the namespace dropped at the end of `t`. */
  async function fleet (t: Test, count: number): Promise<Fleet> {
    const namespace = `s${randomBytes(6).toString('hex')}`
    const open = new Set<Store>()
    t.teardown(async () => {
      try {
        await Promise.all([...open].map(async (store) => { await store.close() }))
      } finally {
        await factory.drop(namespace)
      }
    })
    const openOne = async (): Promise<Store> => {
      const store = factory.open(namespace)
      open.add(store)
      await store.connect()
      return store
    }
    // Connecting at once, as instances booting together do: creating the schema must be race-free.
    const stores = await Promise.all(Array.from({ length: count }, async () => await openOne()))
    return {
      stores,
      open: openOne,
      close: async (store) => {
        open.delete(store)
        await store.close()
      }
    }
  }

  await t.test('a store: its kind, its address without credentials, and its clock', async (t) => {
    const [store] = (await fleet(t, 1)).stores
    t.ok(isStore(store), 'has every method of the contract')
    t.type(store.kind, 'string')
    t.ok(store.kind.length > 0, 'kind is not empty')
    t.type(store.address, 'string')
    t.notMatch(store.address, /\/\/[^/@]*:[^/@]*@/, 'address has no user:password')
    const before = Date.now()
    const now = await store.now()
    const after = Date.now()
    t.ok(Number.isInteger(now), 'now() is whole ms')
    t.ok(now >= before - CLOCK_SKEW && now <= after + CLOCK_SKEW, `now() (${now}) is close to this machine's clock (${before})`)
  })

  await t.test('reconcile: a new job is inserted as declared', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    const before = await a.now()
    const returned = await a.reconcile('a', [declare('one'), declare('two', 'A', true)])
    const after = await a.now()
    const read = await b.readJobs(['one', 'nobody', 'two'])
    t.strictSame(byId(read), byId(returned), 'readJobs (another instance) shows what reconcile returned')
    t.strictSame(byId(read).map(shape), [fresh('one', 'A', false), fresh('two', 'A', true)], 'version 1, paused as declared, no watermark, zeroed stats, no run')
    for (const job of read) within(t, job.anchorAt, before, after, `${job.id} is anchored at the store's now`)
    t.strictSame(await b.readJobs(['nobody']), [], 'readJobs leaves unknown ids out')
    t.strictSame(await b.readJobs([]), [], 'readJobs of no ids')
  })

  await t.test('reconcile: the same hash leaves the job as it is', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    const [first] = await a.reconcile('a', [declare('job')])
    const [again] = await b.reconcile('b', [declare('job', 'A', true)])
    t.strictSame(again, first, 'unchanged: same anchor, version 1, and paused only applies to a new job')
    t.strictSame(await a.readJobs(['job']), [first])
  })

  await t.test('reconcile: a new hash redefines and re-anchors the job, keeping paused', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    const [first] = await a.reconcile('a', [declare('job')])
    t.equal((await a.changeJob('job', { paused: true }) as StoredJob).version, 2, 'paused by someone (version 2)')
    const before = await tick(b, first.anchorAt)
    const [redefined] = await b.reconcile('b', [declare('job', 'B', false)])
    const after = await b.now()
    t.strictSame(shape(redefined), { ...fresh('job', 'B', true), version: 3 }, 'definition and hash B, version + 1, still paused')
    within(t, redefined.anchorAt, before, after, 're-anchored at the store\'s now')
    t.ok(redefined.anchorAt > first.anchorAt, 'the anchor moved forward')
    t.strictSame(await a.readJobs(['job']), [redefined], 'the other instance reads the new definition')
  })

  await t.test('reconcile: an older definition never comes back (no flip-flop)', async (t) => {
    const [a, b, c] = (await fleet(t, 3)).stores
    await a.reconcile('a', [declare('job', 'A')])
    const [b1] = await b.reconcile('b', [declare('job', 'B')])
    t.equal(b1.version, 2, 'B, a new definition, replaced A')
    const [a2] = await a.reconcile('a', [declare('job', 'A')])
    t.strictSame(a2, b1, 'A again (an old version still running): B stays, unchanged')
    const [b2] = await b.reconcile('b', [declare('job', 'B')])
    t.strictSame(b2, b1, 'B again: unchanged')
    const changed = await c.changeJob('job', { definition: definition('job', 'C'), hash: hash('C') })
    t.equal((changed as StoredJob).hash, hash('C'), 'rescheduled to C at runtime')
    const [afterOld] = await b.reconcile('b', [declare('job', 'B')])
    t.strictSame(afterOld, changed, 'B (stored before) does not undo the reschedule')
    const [afterOlder] = await a.reconcile('a', [declare('job', 'A')])
    t.strictSame(afterOlder, changed, 'nor does A')
    const [d] = await c.reconcile('c', [declare('job', 'D')])
    t.strictSame(shape(d), { ...fresh('job', 'D', false), version: 4 }, 'a new definition D still replaces it')
  })

  await t.test('reconcile: jobs this instance does not declare are left alone', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('mine'), declare('theirs')])
    const [theirs] = await a.readJobs(['theirs'])
    const returned = await b.reconcile('b', [declare('mine', 'B')])
    t.strictSame(returned.map((job) => job.id), ['mine'], 'returns the declared jobs only')
    t.strictSame(await b.readJobs(['theirs']), [theirs], 'the undeclared job is neither deleted nor changed')
  })

  await t.test('reconcile: ten instances booting at once leave one job per id', async (t) => {
    const { stores } = await fleet(t, 10)
    const ids = Array.from({ length: 20 }, (_, i) => `job-${String(i).padStart(2, '0')}`)
    // Before the storm: one job added paused, one paused by an operator.
    await stores[0].reconcile('i0', [declare(ids[0], 'A', true), declare(ids[1])])
    await stores[0].changeJob(ids[1], { paused: true })
    const results = await Promise.all(stores.map(async (store, i) => await store.reconcile(`i${i}`, ids.map((id) => declare(id)))))
    t.strictSame(results.map((jobs) => jobs.length), stores.map(() => 20), 'each instance gets the 20 jobs back')
    const jobs = byId(await stores[9].readJobs(ids))
    t.strictSame(jobs.map((job) => job.id), ids, 'one job per id')
    t.strictSame(jobs.map((job) => [job.id, job.hash, job.version, job.paused]), ids.map((id, i) => [id, hash('A'), i === 1 ? 2 : 1, i < 2]),
      'version 1 (the operator\'s pause: 2), and the paused jobs stay paused')
  })

  await t.test('reconcile: old and new versions booting at once settle on the new definition', async (t) => {
    const { stores } = await fleet(t, 10)
    const ids = ['r-0', 'r-1', 'r-2', 'r-3', 'r-4']
    await stores[0].reconcile('i0', ids.map((id) => declare(id, 'A')))
    // A rolling deploy: half the fleet still declares A, half declares B.
    await Promise.all(stores.map(async (store, i) => await store.reconcile(`i${i}`, ids.map((id) => declare(id, i % 2 === 0 ? 'A' : 'B')))))
    const jobs = byId(await stores[0].readJobs(ids))
    t.strictSame(jobs.map((job) => [job.id, job.hash, job.version]), ids.map((id) => [id, hash('B'), 2]), 'B once, whatever the order')
    t.strictSame(jobs.map((job) => job.definition), ids.map((id) => definition(id, 'B')))
  })

  await t.test('claim: a due fire is won once', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    const [job] = await a.reconcile('a', [declare('job')])
    const at = (await a.now()) - 1
    const [won] = await a.claim('a', [fire('job', at)], LATER)
    t.equal(won.status, 'run', 'won')
    const fence = fenceOf(won)
    t.ok(Number.isSafeInteger(fence), `with a numeric fence (${fence})`)
    t.strictSame(await jobOf(t, b, 'job'), { ...job, watermark: at, running: 1, stats: stats({ runs: 1 }) }, 'counted, watermark at the fire, one run live')
    const after = await jobOf(t, b, 'job')
    t.strictSame(await b.claim('b', [fire('job', at, { missed: 5 })], LATER), [{ status: 'taken' }], 'the same fire again (another instance): taken')
    t.strictSame(await a.claim('a', [fire('job', at)], LATER), [{ status: 'taken' }], 'and by the winner')
    t.strictSame(await b.claim('b', [fire('job', at - 1000, { missed: 5 })], LATER), [{ status: 'taken' }], 'a fire before the watermark: taken')
    t.strictSame(await jobOf(t, a, 'job'), after, 'nothing counted for fires that were taken (not their missed either)')
  })

  await t.test('claim: a fire not yet due by the store\'s clock is early', async (t) => {
    const [a] = (await fleet(t, 1)).stores
    const [job] = await a.reconcile('a', [declare('job')])
    const before = await a.now()
    const [early] = await a.claim('a', [fire('job', before + LATER, { missed: 2 })], LATER)
    const after = await a.now()
    t.equal(early.status, 'early')
    within(t, (early as { now: number }).now, before, after, 'early carries the store\'s now')
    t.strictSame(await a.readJobs(['job']), [job], 'nothing recorded: no watermark, no counts')
  })

  await t.test('claim: a paused job\'s fires are refused', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job', 'A', true)])
    const job = await jobOf(t, a, 'job')
    const at = (await b.now()) - 1
    t.strictSame(await b.claim('b', [fire('job', at, { missed: 1 })], LATER), [{ status: 'paused' }])
    t.strictSame(await jobOf(t, a, 'job'), job, 'the watermark did not advance; nothing counted')
  })

  await t.test('claim: a fire computed from another version of the job is stale', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job', 'A')])
    // b boots with a new definition: version 2, re-anchored. a hasn't heard of it yet.
    const [redefined] = await b.reconcile('b', [declare('job', 'B')])
    t.equal(redefined.version, 2)
    const now = await a.now()
    t.strictSame(await a.claim('a', [fire('job', now - 2, { version: 1, missed: 3 })], LATER), [{ status: 'stale' }], 'a fire of the old schedule: stale')
    t.strictSame(await a.claim('a', [fire('job', now - 2, { kind: 'missed', version: 1, missed: 3 })], LATER), [{ status: 'stale' }], 'a missed fire of the old schedule: stale')
    t.strictSame(await a.claim('a', [fire('job', now - 2, { version: 3 })], LATER), [{ status: 'stale' }], 'a version the store has not reached: stale too')
    t.strictSame(await jobOf(t, b, 'job'), redefined, 'nothing recorded: no watermark, no counts')
    const outcomes = await b.claim('b', [fire('job', now - 2, { version: 2 }), fire('job', now - 1, { kind: 'manual', version: 1, maxInstances: 2 })], LATER)
    t.strictSame(statuses(outcomes), ['run', 'run'], 'the current version\'s fire runs, and a manual run is not checked')
    t.strictSame(await a.claim('a', [fire('job', now - 2, { version: 1 })], LATER), [{ status: 'taken' }], 'a fire at or before the watermark is taken, whatever its version')
    t.strictSame(await b.claim('b', [fire('job', now - 1, { version: 2 })], LATER), [{ status: 'skipped' }], 'the next fire of the current version: two runs live, maxInstances 1')
    await b.changeJob('job', { paused: true })
    await b.changeJob('job', { paused: false })
    const resumedAt = await b.now()
    t.strictSame(await a.claim('a', [fire('job', resumedAt, { version: 2 })], LATER), [{ status: 'stale' }], 'after a pause and a resume (version 4), a fire computed before them: stale')
    const job = await jobOf(t, a, 'job')
    t.strictSame([job.version, job.watermark, job.stats], [4, now - 1, stats({ runs: 2, skipped: 1 })], 'stale claims counted nothing')
  })

  await t.test('claim: a job the store does not know', async (t) => {
    const [a] = (await fleet(t, 1)).stores
    const at = (await a.now()) - 1
    const kinds = ['fire', 'missed', 'manual', 'rerun'] as const
    t.strictSame(await a.claim('a', kinds.map((kind) => fire('nobody', at, { kind })), LATER), kinds.map(() => ({ status: 'unknown' })), 'unknown, whatever the kind')
    t.strictSame(await a.readJobs(['nobody']), [], 'and no job appears')
  })

  await t.test('claim: a missed fire advances the watermark and counts once', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const now = await a.now()
    t.strictSame(await a.claim('a', [fire('job', now - 5000, { kind: 'missed', missed: 2 })], LATER), [{ status: 'missed' }])
    const missed = await jobOf(t, b, 'job')
    t.strictSame([missed.watermark, missed.stats, missed.running, missed.lastRun], [now - 5000, stats({ missed: 2 }), 0, null], 'watermark at the fire, its missed count recorded, nothing run')
    t.strictSame(await b.claim('b', [fire('job', now - 5000, { kind: 'missed', missed: 2 })], LATER), [{ status: 'taken' }], 'the other instance\'s claim of the same missed fire')
    t.strictSame(await jobOf(t, a, 'job'), missed, 'counted once in the fleet')
    const [won] = await b.claim('b', [fire('job', now - 1, { missed: 3 })], LATER)
    t.equal(won.status, 'run', 'a won fire')
    t.strictSame((await jobOf(t, a, 'job')).stats, stats({ runs: 1, missed: 5 }), 'carries the missed count of the fires before it')
  })

  await t.test('claim: several fires of one job in one claim, in order (catch-up without coalescing)', async (t) => {
    const [a] = (await fleet(t, 1)).stores
    await a.reconcile('a', [declare('three'), declare('one')])
    const now = await a.now()
    const times = [now - 3000, now - 2000, now - 1000]
    const outcomes = await a.claim('a', times.map((at) => fire('three', at, { maxInstances: 3 })), LATER)
    t.strictSame(statuses(outcomes), ['run', 'run', 'run'], 'all three run (maxInstances 3)')
    t.equal(new Set(outcomes.map(fenceOf)).size, 3, 'each with its own fence')
    const three = await jobOf(t, a, 'three')
    t.strictSame([three.watermark, three.stats, three.running], [times[2], stats({ runs: 3 }), 3], 'watermark at the last fire, three runs live')
    const limited = await a.claim('a', times.map((at) => fire('one', at, { maxInstances: 1 })), LATER)
    t.strictSame(statuses(limited), ['run', 'skipped', 'skipped'], 'maxInstances 1: the first run is live for the next ones of the same claim')
    const one = await jobOf(t, a, 'one')
    t.strictSame([one.watermark, one.stats, one.running], [times[2], stats({ runs: 1, skipped: 2 }), 1])
  })

  await t.test('claim: maxInstances counts the live runs of the whole fleet', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job'), declare('expired')])
    const now = await a.now()
    t.equal((await a.claim('a', [fire('job', now - 2000)], LATER))[0].status, 'run', 'instance a runs a fire')
    t.strictSame(await b.claim('b', [fire('job', now - 1000, { missed: 2 })], LATER), [{ status: 'skipped' }], 'b\'s next fire: a\'s run is live, maxInstances 1')
    const job = await jobOf(t, a, 'job')
    t.strictSame([job.watermark, job.stats, job.running], [now - 1000, stats({ runs: 1, skipped: 1, missed: 2 }), 1],
      'skipped counted once, the missed fires before it too, the watermark advanced, still one live run')
    t.strictSame(await b.claim('b', [fire('job', now - 500, { kind: 'manual' })], LATER), [{ status: 'skipped' }], 'a manual run too')
    t.equal((await jobOf(t, a, 'job')).stats.skipped, 2)

    t.equal((await a.claim('a', [fire('expired', now - 2000)], 0))[0].status, 'run', 'a run with a lease of 0 ms')
    t.equal((await jobOf(t, b, 'expired')).running, 0, 'its lease expired at once: not live')
    t.equal((await b.claim('b', [fire('expired', now - 1000)], LATER))[0].status, 'run', 'so it does not count against maxInstances')
    const expired = await jobOf(t, a, 'expired')
    t.strictSame([expired.stats, expired.running], [stats({ runs: 2 }), 1])
  })

  await t.test('claim: manual runs ignore the schedule but not maxInstances', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const now = await a.now()
    t.equal((await a.claim('a', [fire('job', now - 1000)], 0))[0].status, 'run', 'a scheduled fire sets the watermark')
    await a.changeJob('job', { paused: true })
    const manual = (at: number): Claim => fire('job', at, { kind: 'manual', maxInstances: 2 })
    t.equal((await b.claim('b', [manual(now + LATER)], LATER))[0].status, 'run', 'runs while paused, at a time not due yet')
    t.equal((await b.claim('b', [manual(now - 5000)], LATER))[0].status, 'run', 'and at a time before the watermark')
    t.strictSame(await a.claim('a', [manual(now)], LATER), [{ status: 'skipped' }], 'a third: two runs live, maxInstances 2')
    const job = await jobOf(t, a, 'job')
    t.strictSame([job.paused, job.watermark, job.stats, job.running], [true, now - 1000, stats({ runs: 3, skipped: 1 }), 2], 'still paused, the watermark untouched')
  })

  await t.test('claim: a lost fire is rerun once', async (t) => {
    const [a, b, c] = (await fleet(t, 3)).stores
    await a.reconcile('a', [declare('job', 'A')])
    const now = await a.now()
    const [s1, s2] = [now - 2000, now - 1000]
    t.strictSame(statuses(await a.claim('a', [fire('job', s1), fire('job', s2)], 0)), ['run', 'run'], 'two runs, with leases of 0 ms')
    t.strictSame((await b.sweep()).map((run) => [run.scheduledAt, run.attempt]).sort(byFirst), [[s1, 1], [s2, 1]], 'both lost, first attempts')
    const [rerun1] = await b.claim('b', [fire('job', s1, { kind: 'rerun' })], 0)
    t.equal(rerun1.status, 'run', 'the rerun of the earlier fire runs (the watermark is past it)')
    t.strictSame(await c.claim('c', [fire('job', s1, { kind: 'rerun' })], 0), [{ status: 'taken' }], 'a second rerun of that fire: taken')
    const racing = await Promise.all([decide(b, 'b', [fire('job', s2, { kind: 'rerun' })], 0), decide(c, 'c', [fire('job', s2, { kind: 'rerun' })], 0)])
    t.strictSame(statuses(racing.flat()).sort(), ['run', 'taken'], 'two instances rerunning the other fire at once: one wins')
    const lost = await a.sweep()
    t.strictSame(lost.map((run) => [run.scheduledAt, run.attempt, run.fence]).sort(byFirst), [[s1, 2, fenceOf(rerun1)], [s2, 2, fenceOf(racing.flat().filter(isRun)[0])]], 'lost again: second attempts')
    t.strictSame(await a.claim('a', [fire('job', s1, { kind: 'rerun' }), fire('job', s2, { kind: 'rerun' })], 0), [{ status: 'taken' }, { status: 'taken' }], 'no third attempt')
    const job = await jobOf(t, a, 'job')
    t.strictSame([job.watermark, job.stats, job.running], [s2, stats({ runs: 4, failures: 4 }), 0], 'reruns leave the watermark alone')
  })

  await t.test('claim: a paused job\'s lost fire is not rerun while paused', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const at = (await a.now()) - 1
    t.equal((await a.claim('a', [fire('job', at)], 0))[0].status, 'run')
    t.equal((await b.sweep()).length, 1, 'lost')
    await b.changeJob('job', { paused: true })
    t.strictSame(await b.claim('b', [fire('job', at, { kind: 'rerun' })], LATER), [{ status: 'paused' }], 'a rerun is a scheduled fire\'s: refused while paused (only manual runs ignore paused)')
    await b.changeJob('job', { paused: false })
    t.equal((await b.claim('b', [fire('job', at, { kind: 'rerun' })], LATER))[0].status, 'run', 'the refused claim did not use up the fire\'s one rerun')
    const job = await jobOf(t, a, 'job')
    t.strictSame([job.stats, job.running], [stats({ runs: 2, failures: 1 }), 1])
  })

  await t.test('claim: a mixed claim gets its outcomes in order', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('due'), declare('paused', 'A', true), declare('late'), declare('busy')])
    const now = await a.now()
    t.equal((await b.claim('b', [fire('due', now - 3000)], LATER))[0].status, 'run', 'b ran an earlier fire of "due"')
    const outcomes = await a.claim('a', [
      fire('nobody', now - 1),
      fire('busy', now - 1, { kind: 'manual' }),
      fire('due', now + LATER),
      fire('paused', now - 1),
      fire('due', now - 3000),
      fire('late', now - 1, { kind: 'missed', missed: 1 }),
      fire('busy', now - 1),
      fire('due', now - 1, { maxInstances: 2 })
    ], LATER)
    t.strictSame(statuses(outcomes), ['unknown', 'run', 'early', 'paused', 'taken', 'missed', 'skipped', 'run'])
  })

  await t.test('claim: three instances racing for the same 300 fires win each exactly once', async (t) => {
    const { stores } = await fleet(t, 3)
    const ids = ['race-0', 'race-1', 'race-2']
    await stores[0].reconcile('i0', ids.map((id) => declare(id)))
    const base = (await stores[0].now()) - 1_000_000
    // Each instance claims every fire, oldest first (as a scheduler catching up
    // would), one batch at a time: two with the same batches contend on the same
    // fires in every round, the third's batches overlap theirs in part.
    const fires = Array.from({ length: 100 }, (_, i) => ids.map((id) => ({ id, at: base + i * 1000, missed: i % 10 === 0 ? 1 : 0 }))).flat()
    const sizes = [10, 7, 10]
    const results = await Promise.all(stores.map(async (store, s) => {
      const outcomes: Array<{ key: string, outcome: ClaimOutcome }> = []
      for (let from = 0; from < fires.length; from += sizes[s]) {
        const batch = fires.slice(from, from + sizes[s])
        const got = await decide(store, `i${s}`, batch.map((f) => fire(f.id, f.at, { missed: f.missed, maxInstances: 1000 })), LATER)
        got.forEach((outcome, k) => outcomes.push({ key: `${batch[k].id}@${batch[k].at}`, outcome }))
      }
      return outcomes
    }))
    const all = results.flat()
    t.equal(all.length, 900, 'every instance got an outcome for every fire')
    const wins = all.filter(({ outcome }) => outcome.status === 'run')
    t.strictSame(wins.map(({ key }) => key).sort(), fires.map((f) => `${f.id}@${f.at}`).sort(), 'each fire won by exactly one instance')
    t.strictSame([...new Set(all.filter(({ outcome }) => outcome.status !== 'run').map(({ outcome }) => outcome.status))], ['taken'], 'the others: taken')
    t.equal(new Set(wins.map(({ outcome }) => fenceOf(outcome))).size, 300, 'fences are unique')
    const perInstance = results.map((outcomes) => outcomes.filter(({ outcome }) => outcome.status === 'run').length)
    t.equal(perInstance.reduce((x, y) => x + y), 300, `wins per instance: ${perInstance.join(', ')}`)
    const jobs = byId(await stores[1].readJobs(ids))
    t.strictSame(jobs.map((job) => [job.stats, job.watermark, job.running]), ids.map(() => [stats({ runs: 100, missed: 10 }), base + 99_000, 100]),
      'per job: 100 runs, the missed counts once each, the watermark at the last fire')
  })

  await t.test('claim: maxInstances holds under concurrent claims', async (t) => {
    const { stores } = await fleet(t, 3)
    await stores[0].reconcile('i0', [declare('job')])
    const base = (await stores[0].now()) - 100_000
    // Each instance claims its own fires (one at a time): whichever come first, at most 2 runs are live.
    const results = await Promise.all(stores.map(async (store, s) => {
      const outcomes: Status[] = []
      for (let i = 0; i < 15; i++) {
        const [outcome] = await decide(store, `i${s}`, [fire('job', base + (i * 3 + s) * 1000, { maxInstances: 2 })], LATER)
        outcomes.push(outcome.status)
      }
      return outcomes
    }))
    const all = results.flat()
    const runs = all.filter((status) => status === 'run').length
    const skipped = all.filter((status) => status === 'skipped').length
    t.equal(runs + skipped + all.filter((status) => status === 'taken').length, 45, 'run, skipped or taken')
    t.ok(runs + skipped >= 1, 'the first fire claimed was won')
    t.equal(runs, Math.min(2, runs + skipped), `the first two fires won run, the others are skipped (${runs} run, ${skipped} skipped)`)
    const job = await jobOf(t, stores[0], 'job')
    t.strictSame([job.stats, job.running], [stats({ runs, skipped }), runs])
  })

  await t.test('finish: only the owner ends its run, with its fence, once', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const at = (await a.now()) - 1
    const claim = fire('job', at)
    const fence = fenceOf((await a.claim('a', [claim], LATER))[0])
    const live = await jobOf(t, a, 'job')
    const end = runEnd('job', fence, 'success', await a.now())
    t.strictSame(await b.finish('b', [end]), [false], 'another instance cannot end it')
    t.strictSame(await a.finish('a', [{ ...end, fence: fence + 1_000_000 }]), [false], 'an unknown fence')
    t.strictSame(await jobOf(t, b, 'job'), live, 'refused ends change nothing')
    t.strictSame(await a.finish('a', [end]), [true], 'the owner ends it')
    const done = await jobOf(t, b, 'job')
    t.strictSame([done.stats, done.running], [stats({ runs: 1, successes: 1 }), 0], 'a success, nothing live')
    t.strictSame(done.lastRun, { runId: claim.runId, scheduledAt: at, startedAt: end.startedAt, finishedAt: end.finishedAt, durationMs: end.durationMs, status: 'success', error: null, instanceId: 'a' },
      'lastRun: the run as reported, by instance a')
    t.strictSame(await a.finish('a', [end]), [false], 'ended already: a second end is refused')
    t.strictSame(await jobOf(t, b, 'job'), done, 'and changes nothing')
  })

  await t.test('finish: several ends in one call, failures counted each', async (t) => {
    const [a] = (await fleet(t, 1)).stores
    await a.reconcile('a', [declare('job')])
    const now = await a.now()
    const claims = [fire('job', now - 3000, { maxInstances: 3 }), fire('job', now - 2000, { maxInstances: 3 }), fire('job', now - 1000, { maxInstances: 3 })]
    const fences = (await a.claim('a', claims, LATER)).map(fenceOf)
    const at = await a.now()
    const ends = [runEnd('job', fences[0], 'error', at), runEnd('job', fences[0] + 1_000_000, 'success', at), runEnd('job', fences[1], 'timeout', at + 1), runEnd('job', fences[2], 'aborted', at + 2)]
    t.strictSame(await a.finish('a', ends), [true, false, true, true], 'acceptance per end, in order')
    const job = await jobOf(t, a, 'job')
    t.strictSame([job.stats, job.running], [stats({ runs: 3, failures: 3 }), 0], 'error, timeout and aborted are failures, each counted')
    t.strictSame(job.lastRun, { runId: claims[2].runId, scheduledAt: now - 1000, startedAt: ends[3].startedAt, finishedAt: ends[3].finishedAt, durationMs: ends[3].durationMs, status: 'aborted', error: ends[3].error, instanceId: 'a' },
      'lastRun: the latest end')
  })

  await t.test('finish: a run swept as lost cannot be finished (a zombie is fenced off)', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const at = (await a.now()) - 1
    const fence = fenceOf((await a.claim('a', [fire('job', at)], 0))[0])
    t.equal((await b.sweep()).length, 1, 'swept by another instance')
    const lost = await jobOf(t, b, 'job')
    t.strictSame(await a.finish('a', [runEnd('job', fence, 'success', await a.now())]), [false], 'the zombie\'s end is refused')
    t.strictSame(await jobOf(t, b, 'job'), lost, 'the run stays lost: one failure, no success')
    t.strictSame(lost.stats, stats({ runs: 1, failures: 1 }))
    t.match(lost.lastRun, { status: 'lost' })
  })

  await t.test('finish and sweep racing: each run ends exactly once', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const now = await a.now()
    const fences = (await a.claim('a', Array.from({ length: 20 }, (_, i) => fire('job', now - 20_000 + i * 1000)), 0)).map(fenceOf)
    const at = await a.now()
    const [accepted, swept] = await Promise.all([a.finish('a', fences.map((fence) => runEnd('job', fence, 'success', at))), b.sweep()])
    const sweptFences = new Set(swept.map((run) => run.fence))
    t.strictSame(fences.map((fence, i) => accepted[i] !== sweptFences.has(fence)), fences.map(() => true), 'each run either finished or lost, never both')
    t.equal(sweptFences.size + accepted.filter(Boolean).length, 20)
    t.strictSame((await jobOf(t, b, 'job')).stats, stats({ runs: 20, successes: accepted.filter(Boolean).length, failures: swept.length }))
  })

  await t.test('heartbeat: renews its own runs, reports the others as lost, gives the store\'s time', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const now = await a.now()
    // Leases of 0 ms: expired at once, so only a renewal keeps a run from the sweeper.
    const [renewed, forgotten] = (await a.claim('a', [fire('job', now - 3000, { maxInstances: 9 }), fire('job', now - 2000, { maxInstances: 9 })], 0)).map(fenceOf)
    const [theirs] = (await b.claim('b', [fire('job', now - 1000, { maxInstances: 9 })], 0)).map(fenceOf)
    const unknown = theirs + 1_000_000
    const before = await a.now()
    const beat = await a.heartbeat('a', [renewed, theirs, unknown], LATER)
    const after = await a.now()
    within(t, beat.now, before, after, 'heartbeat returns the store\'s now')
    t.strictSame([...beat.lost].sort(numeric), [theirs, unknown].sort(numeric), 'someone else\'s fence and an unknown one are lost')
    t.equal((await jobOf(t, b, 'job')).running, 1, 'the renewed run is live again')
    t.strictSame((await b.sweep()).map((run) => run.fence).sort(numeric), [forgotten, theirs].sort(numeric), 'the sweeper takes the runs not renewed (a\'s heartbeat did not renew b\'s run)')
    t.strictSame((await a.heartbeat('a', [renewed, forgotten], LATER)).lost, [forgotten], 'a swept run is lost')
    t.strictSame(await a.finish('a', [runEnd('job', renewed, 'success', await a.now())]), [true], 'the renewed run can still be finished')
    t.strictSame((await a.heartbeat('a', [renewed], LATER)).lost, [renewed], 'an ended run is lost too')
    t.strictSame((await a.heartbeat('a', [], LATER)).lost, [], 'no fences, nothing lost')
  })

  await t.test('instances: who reached the store recently, and leave', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    const before = await a.now()
    await a.heartbeat('i-1', [], LATER)
    await b.heartbeat('i-2', [], LATER)
    const after = await a.now()
    const first = byId(await b.instances(LATER))
    t.strictSame(first.map((instance) => instance.id), ['i-1', 'i-2'], 'both instances')
    for (const instance of first) {
      within(t, instance.heartbeatAt, before, after, `${instance.id}'s heartbeatAt`)
      within(t, instance.startedAt, before, instance.heartbeatAt, `${instance.id}'s startedAt`)
    }
    const again = await tick(a, first[0].heartbeatAt)
    await b.heartbeat('i-1', [], LATER)
    const [i1] = byId(await a.instances(LATER))
    t.equal(i1.startedAt, first[0].startedAt, 'a later heartbeat keeps startedAt')
    within(t, i1.heartbeatAt, again, await a.now(), 'and moves heartbeatAt')
    t.ok(i1.heartbeatAt > first[0].heartbeatAt, 'forward')
    await b.leave('i-1')
    t.strictSame((await a.instances(LATER)).map((instance) => instance.id), ['i-2'], 'leave forgets i-1 only')
    await a.leave('nobody')
    t.equal((await a.instances(LATER)).length, 1, 'leaving as an unknown instance is harmless')
  })

  await t.test('sweep: an expired run becomes lost, returned once', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const now = await a.now()
    const expired = fire('job', now - 2000, { maxInstances: 2 })
    const before = await a.now()
    const [fence] = (await a.claim('a', [expired], 0)).map(fenceOf)
    const after = await a.now()
    t.equal((await a.claim('a', [fire('job', now - 1000, { maxInstances: 2 })], LATER))[0].status, 'run', 'and a run with a live lease')
    t.strictSame(await b.sweep(), [{ jobId: 'job', runId: expired.runId, fence, scheduledAt: now - 2000, instanceId: 'a', attempt: 1 }] satisfies LostRun[], 'the expired run, not the live one')
    t.strictSame(await a.sweep(), [], 'returned once')
    const job = await jobOf(t, a, 'job')
    t.strictSame([job.stats, job.running], [stats({ runs: 2, failures: 1 }), 1], 'a failure; the live run still runs')
    t.match(job.lastRun, { runId: expired.runId, scheduledAt: now - 2000, finishedAt: null, durationMs: null, status: 'lost', error: { name: 'LostRunError', message: String }, instanceId: 'a' }, 'kept as lastRun')
    within(t, (job.lastRun as { startedAt: number }).startedAt, before, after, 'started when claimed')
  })

  await t.test('sweep: concurrent sweepers share out the lost runs', async (t) => {
    const { stores } = await fleet(t, 3)
    await stores[0].reconcile('i0', [declare('job')])
    const now = await stores[0].now()
    const fences = (await stores[0].claim('i0', Array.from({ length: 30 }, (_, i) => fire('job', now - 30_000 + i * 1000)), 0)).map(fenceOf)
    const swept = (await Promise.all(stores.map(async (store) => await store.sweep()))).flat()
    t.strictSame(swept.map((run) => run.fence).sort(numeric), [...fences].sort(numeric), 'each lost run returned to exactly one sweeper')
    const job = await jobOf(t, stores[1], 'job')
    t.strictSame([job.stats, job.running], [stats({ runs: 30, failures: 30 }), 0])
    t.match(job.lastRun, { status: 'lost', finishedAt: null })
  })

  await t.test('changeJob: pause, resume and redefine, each bumping the version', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    const [job] = await a.reconcile('a', [declare('job')])
    const paused = await b.changeJob('job', { paused: true })
    t.strictSame(paused, { ...job, paused: true, version: 2 }, 'paused, version 2, nothing else changed')
    t.strictSame(await a.readJobs(['job']), [paused], 'as the fleet reads it')
    const now = await a.now()
    t.strictSame(await a.claim('a', [fire('job', now - 1)], LATER), [{ status: 'paused' }], 'fires are then refused')
    const before = await tick(b, job.anchorAt)
    const resumed = await b.changeJob('job', { paused: false }) as StoredJob
    const after = await b.now()
    t.strictSame(shape(resumed), { ...shape(job), version: 3 }, 'resumed, version 3')
    within(t, resumed.anchorAt, before, after, 're-anchored at the store\'s now')
    t.ok(resumed.anchorAt > job.anchorAt, 'the anchor moved forward')
    t.equal((await a.claim('a', [fire('job', after - 1, { version: 3 })], LATER))[0].status, 'run', 'fires are claimed again')
    await b.changeJob('job', { paused: true })
    const again = await tick(b, resumed.anchorAt)
    const redefined = await b.changeJob('job', { definition: definition('job', 'B'), hash: hash('B') }) as StoredJob
    const end = await b.now()
    t.strictSame([redefined.definition, redefined.hash, redefined.version, redefined.paused], [definition('job', 'B'), hash('B'), 5, true], 'redefined: new definition and hash, version + 1, still paused')
    within(t, redefined.anchorAt, again, end, 're-anchored at the store\'s now')
    t.ok(redefined.anchorAt > resumed.anchorAt, 'the anchor moved forward')
    t.strictSame(await a.readJobs(['job']), [redefined])
    t.equal(await a.changeJob('nobody', { paused: true }), null, 'an unknown job: null')
    t.equal(await a.changeJob('nobody', { paused: false }), null)
    t.equal(await a.changeJob('nobody', { definition: definition('nobody', 'A'), hash: hash('A') }), null)
    t.strictSame(await a.readJobs(['nobody']), [], 'and it is not created')
  })

  await t.test('versions: each job\'s stored version, for the polling fallback', async (t) => {
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('one'), declare('two')])
    t.strictSame(await b.versions(['one', 'nobody', 'two']), { one: 1, two: 1 }, 'unknown ids left out')
    t.strictSame(await b.versions([]), {})
    const now = await a.now()
    t.equal((await a.claim('a', [fire('one', now - 1)], LATER))[0].status, 'run')
    t.strictSame(await b.versions(['one', 'two']), { one: 1, two: 1 }, 'claims change no version')
    await b.changeJob('two', { paused: true })
    await b.reconcile('b', [declare('one', 'B')])
    t.strictSame(await a.versions(['one', 'two']), { one: 2, two: 2 }, 'a change and a redefinition each bump it')
  })

  await t.test('subscribe: another instance hears of each change', async (t) => {
    t.setTimeout(10_000)
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job'), declare('other')])
    const heard = listener()
    const unsubscribe = await b.subscribe(heard.listener)
    const changes = [{ paused: true }, { paused: false }, { definition: definition('job', 'B'), hash: hash('B') }] as const
    for (const change of changes) {
      const next = heard.next('job')
      await a.changeJob('job', change)
      t.ok((await next).includes('job'), `notified of ${Object.keys(change).join(' and ')}`)
    }
    const other = heard.next('other')
    await a.changeJob('other', { paused: true })
    await other
    t.equal(heard.calls.filter((ids) => ids.includes('job')).length, 3, 'one notification per change of the job')
    await unsubscribe()
  })

  await t.test('subscribe: an unsubscribed listener is called no more', async (t) => {
    t.setTimeout(10_000)
    const [a, b] = (await fleet(t, 2)).stores
    await a.reconcile('a', [declare('job')])
    const first = listener()
    const second = listener()
    const unsubscribeFirst = await b.subscribe(first.listener)
    const unsubscribeSecond = await b.subscribe(second.listener)
    const both = [first.next('job'), second.next('job')]
    await a.changeJob('job', { paused: true })
    await Promise.all(both)
    await unsubscribeFirst()
    for (const change of [{ paused: false }, { paused: true }] as const) {
      const next = second.next('job')
      await a.changeJob('job', change)
      await next
    }
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(first.calls.length, 1, 'the first listener heard only the change before it unsubscribed')
    t.equal(second.calls.length, 3, 'the second heard all three')
    await unsubscribeSecond()
  })

  await t.test('a handle\'s data outlives it: closed, then another handle reads it', async (t) => {
    const shared = await fleet(t, 1)
    const [job] = await shared.stores[0].reconcile('a', [declare('job')])
    await shared.close(shared.stores[0])
    const reopened = await shared.open()
    t.strictSame(await reopened.readJobs(['job']), [job])
  })
}

/** A listener that records its calls and tells when one names a job. */
function listener (): { listener: (ids: string[]) => void, calls: string[][], next: (id: string) => Promise<string[]> } {
  const calls: string[][] = []
  const waiting: Array<{ id: string, resolve: (ids: string[]) => void }> = []
  return {
    calls,
    listener: (ids) => {
      calls.push([...ids])
      const pending = waiting.splice(0)
      waiting.push(...pending.filter((waiter) => !ids.includes(waiter.id)))
      for (const waiter of pending.filter((waiter) => ids.includes(waiter.id))) waiter.resolve(ids)
    },
    /** The next call naming `id` (ask before the change). */
    next: async (id) => await new Promise((resolve) => { waiting.push({ id, resolve }) })
  }
}

function hash (version: string): string {
  return `hash-${version}`
}

function definition (id: string, version: string): SharedDefinition {
  const options: JobOptions = { ...DEFAULT_JOB_OPTIONS, onLost: 'mark', maxInstances: 2 }
  return {
    name: `job ${id}`,
    // Nested values of each JSON type: the stored definition must come back as given.
    trigger: { type: 'interval', every: 60_000, version, start: '2026-01-05T00:00:00.000Z', extra: { list: [1, 'two', null, true, 2.5], empty: {} } },
    zone: 'Europe/Paris',
    options
  }
}

function declare (id: string, version = 'A', paused = false): DeclaredJob {
  return { id, hash: hash(version), definition: definition(id, version), paused }
}

/** A new job as reconcile stores it, without its anchor. */
function fresh (id: string, version: string, paused: boolean): Shape {
  return { id, hash: hash(version), definition: definition(id, version), paused, version: 1, watermark: null, stats: stats({}), lastRun: null, running: 0 }
}

function shape (job: StoredJob): Shape {
  const { anchorAt, ...rest } = job
  return rest
}

function stats (counts: Partial<StoredJob['stats']>): StoredJob['stats'] {
  return { runs: 0, successes: 0, failures: 0, missed: 0, skipped: 0, ...counts }
}

function fire (jobId: string, scheduledAt: number, more: Partial<Claim> = {}): Claim {
  return { jobId, kind: 'fire', scheduledAt, missed: 0, maxInstances: 1, runId: randomUUID(), version: 1, ...more }
}

function runEnd (jobId: string, fence: number, status: RunEnd['status'], now: number): RunEnd {
  return { fence, jobId, status, startedAt: now - 50, finishedAt: now, durationMs: 50, error: status === 'success' ? null : { name: 'Error', message: `ended as ${status}` } }
}

function isRun (outcome: ClaimOutcome): boolean {
  return outcome.status === 'run'
}

/** The fence of a 'run' outcome (NaN otherwise, which fails the checks that use it). */
function fenceOf (outcome: ClaimOutcome): number {
  return Number((outcome as { fence?: number }).fence)
}

/**
 * claim(), with the claims answered 'busy' (another call held their job: only
 * PostgreSQL, whose claims never wait for one another) sent again until each is
 * decided, as the scheduler does; `whenBusy` runs before each new try. The
 * outcomes are in the claims' order.
 */
export async function decide (store: Store, instanceId: string, claims: Claim[], leaseMs: number, whenBusy?: () => Promise<void>): Promise<ClaimOutcome[]> {
  const outcomes = await store.claim(instanceId, claims, leaseMs)
  const busy = outcomes.flatMap((outcome, i) => outcome.status === 'busy' ? [i] : [])
  if (busy.length === 0) return outcomes
  await whenBusy?.()
  const again = await decide(store, instanceId, busy.map((i) => claims[i]), leaseMs, whenBusy)
  busy.forEach((i, k) => { outcomes[i] = again[k] })
  return outcomes
}

function statuses (outcomes: ClaimOutcome[]): Status[] {
  return outcomes.map((outcome) => outcome.status)
}

/** The one stored job with this id. */
async function jobOf (t: Test, store: Store, id: string): Promise<StoredJob> {
  const jobs = await store.readJobs([id])
  t.equal(jobs.length, 1, `job ${id} is in the store`)
  return jobs[0]
}

function byId<T extends { id: string }> (items: readonly T[]): T[] {
  return [...items].sort((x, y) => x.id.localeCompare(y.id))
}

function byFirst (x: number[], y: number[]): number {
  return x[0] - y[0]
}

function numeric (x: number, y: number): number {
  return x - y
}

/**
 * The store's time once its clock has passed `time` (a millisecond or so of
 * reads, never a sleep): what follows happens strictly later than `time`.
 */
async function tick (store: Store, time: number): Promise<number> {
  let now: number
  do now = await store.now()
  while (now <= time)
  return now
}

/** `value` is a time the store set between two reads of its clock. */
function within (t: Test, value: number, from: number, to: number, what: string): void {
  t.ok(Number.isInteger(value), `${what}: whole ms`)
  t.ok(value >= from - SLACK && value <= to + SLACK, `${what} (${value}) is between ${from} and ${to}`)
}
