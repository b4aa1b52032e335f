/**
 * FleetShares (lib/shares.ts): which instance of a fleet claims a job's fires
 * first. Every instance computes the same answer from the same list of live
 * instances, so exactly one says "mine" for each job; the jobs spread evenly;
 * an instance joining or leaving moves only the jobs it gains or loses.
 */
import t from 'tap'
import { FleetShares } from '../lib/shares.js'

const JOBS = Array.from({ length: 3000 }, (_, i) => `job-${i}`)

/** Each instance's view of the same fleet `ids`. */
function fleet (ids: string[]): Map<string, FleetShares> {
  return new Map(ids.map((id) => {
    const shares = new FleetShares(id)
    shares.update(ids)
    return [id, shares]
  }))
}

/** job → the instances that say it is theirs. */
function owners (views: Map<string, FleetShares>): Map<string, string[]> {
  return new Map(JOBS.map((job) => [job, [...views].filter(([, shares]) => shares.isMine(job)).map(([id]) => id)]))
}

t.test('alone, every job is this instance\'s', async (t) => {
  const shares = new FleetShares('solo')
  t.ok(JOBS.every((job) => shares.isMine(job)), 'before any list')
  shares.update([])
  t.ok(JOBS.every((job) => shares.isMine(job)), 'an empty list')
  shares.update(['solo', 'solo'])
  t.ok(JOBS.every((job) => shares.isMine(job)), 'a list of itself only')
})

t.test('in a fleet, exactly one instance says a job is its own, and the jobs spread evenly', async (t) => {
  for (const ids of [['a', 'b'], ['i1', 'i2', 'i3'], ['3f2c9e1a-41b7-4c55-8d0e-1d2b9e4f7a60', '9b8d7c6e-5f4a-4b3c-9d2e-1f0a9b8c7d6e', 'host-1:4711', 'host-2:4711', 'x']]) {
    const shareOf = owners(fleet(ids))
    t.ok([...shareOf.values()].every((mine) => mine.length === 1), `${ids.length} instances: one owner per job`)
    const counts = ids.map((id) => [...shareOf.values()].filter(([owner]) => owner === id).length)
    const fair = JOBS.length / ids.length
    t.ok(counts.every((count) => Math.abs(count - fair) < fair * 0.15), `${ids.length} instances: within 15% of an even share each (${counts.join('/')})`)
  }
})

t.test('every instance answers the same whatever the order of its list, itself listed or not', async (t) => {
  const ids = ['i1', 'i2', 'i3']
  const reference = owners(fleet(ids))
  const shuffled = new FleetShares('i2')
  shuffled.update(['i3', 'i1', 'i2', 'i3'])
  const unlisted = new FleetShares('i2')
  unlisted.update(['i3', 'i1'])
  t.ok(JOBS.every((job) => shuffled.isMine(job) === reference.get(job)?.includes('i2')), 'order and repeats do not matter')
  t.ok(JOBS.every((job) => unlisted.isMine(job) === reference.get(job)?.includes('i2')), 'an instance counts itself in')
})

t.test('an instance joining takes jobs from the others and moves no other job; leaving gives them back', async (t) => {
  const before = owners(fleet(['i1', 'i2', 'i3']))
  const after = owners(fleet(['i1', 'i2', 'i3', 'i4']))
  const moved = JOBS.filter((job) => before.get(job)?.[0] !== after.get(job)?.[0])
  t.ok(moved.length > 0, 'some jobs move')
  t.ok(moved.every((job) => after.get(job)?.[0] === 'i4'), 'each to the new instance only')
  t.ok(Math.abs(moved.length - JOBS.length / 4) < JOBS.length / 4 * 0.15, `about a quarter of them (${moved.length})`)
  t.same(owners(fleet(['i1', 'i2', 'i3'])), before, 'when it leaves, every job goes back where it was')
})

t.test('the epoch changes when the fleet does, and only then', async (t) => {
  const shares = new FleetShares('i1')
  const start = shares.epoch
  shares.update(['i1'])
  t.equal(shares.epoch, start, 'alone, then listed alone: the same fleet')
  shares.update(['i1', 'i2'])
  const two = shares.epoch
  t.not(two, start, 'an instance joined')
  shares.update(['i2', 'i1', 'i2'])
  t.equal(shares.epoch, two, 'the same fleet listed again, in another order')
  shares.update(['i1', 'i3'])
  t.not(shares.epoch, two, 'one left and another joined: as many instances, another fleet')
  const three = shares.epoch
  shares.update(['i1'])
  t.not(shares.epoch, three, 'alone again')
})
