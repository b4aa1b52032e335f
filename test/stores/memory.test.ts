import t, { type Test } from 'tap'
import { HASH_HISTORY, MemoryStore, memoryStore } from '../../lib/stores/memory.js'
import { isStore, STORE_METHODS, type Claim, type DeclaredJob, type Store } from '../../lib/stores/store.js'
import { DEFAULT_JOB_OPTIONS } from '../../lib/job.js'
import { storeSuite, type StoreFactory } from '../helpers/store-suite.js'
import { databaseUrl, pgReachable, redisReachable, redisUrl, requireService, withoutCredentials } from '../helpers/services.js'

// One MemoryStore per namespace: the handles opened on it share it, as instances share a server.
const namespaces = new Map<string, Store>()
const factory: StoreFactory = {
  open (namespace) {
    const store = namespaces.get(namespace) ?? memoryStore()
    namespaces.set(namespace, store)
    return store
  },
  async drop (namespace) {
    namespaces.delete(namespace)
  }
}

t.test('the Store contract', async (t) => {
  await storeSuite(t, factory)
  t.equal(namespaces.size, 0, 'every subtest dropped its namespace')
})

/** A clock the test moves. */
function manualClock (start = Date.parse('2026-01-05T00:00:00.000Z')): { now: () => number, time: number } {
  const clock = { time: start, now: () => clock.time }
  return clock
}

function declare (id: string, hash = 'h0'): DeclaredJob {
  return { id, hash, paused: false, definition: { name: id, trigger: { type: 'interval', every: 1000, hash }, zone: 'UTC', options: { ...DEFAULT_JOB_OPTIONS } } }
}

function fire (jobId: string, scheduledAt: number, more: Partial<Claim> = {}): Claim {
  return { jobId, kind: 'fire', scheduledAt, missed: 0, maxInstances: 5, runId: `run-${scheduledAt}`, version: 1, ...more }
}

t.test('memoryStore and MemoryStore', async (t) => {
  const store = memoryStore()
  t.ok(store instanceof MemoryStore)
  t.equal(store.kind, 'memory')
  t.equal(store.address, 'memory')
  await store.connect()
  const before = Date.now()
  const now = await new MemoryStore().now()
  t.ok(now >= before && now <= Date.now(), 'the default clock is Date.now')
  await store.close()
})

t.test('isStore tells a store from other values', async (t) => {
  t.ok(isStore(memoryStore()))
  for (const value of [null, undefined, 'memory', {}, { ...Object.fromEntries(STORE_METHODS.map((name) => [name, () => {}])) }]) t.notOk(isStore(value), String(value))
  t.ok(isStore({ kind: 'custom', ...Object.fromEntries(STORE_METHODS.map((name) => [name, () => {}])) }), 'any object with the methods and a kind')
})

t.test('an injected clock is the store\'s time: due, early, leases and instances by it', async (t) => {
  const clock = manualClock()
  const start = clock.time
  const store = memoryStore({ clock })
  t.equal(await store.now(), start)
  const [job] = await store.reconcile('a', [declare('job')])
  t.equal(job.anchorAt, start, 'anchored at the clock\'s now')

  t.strictSame(await store.claim('a', [fire('job', start + 1)], 1000), [{ status: 'early', now: start }], 'a millisecond ahead: early')
  const [run] = await store.claim('a', [fire('job', start)], 1000)
  t.equal(run.status, 'run', 'due at exactly now')
  clock.time = start + 999
  t.equal((await store.readJobs(['job']))[0].running, 1, 'live while the lease is ahead of now')
  t.strictSame(await store.sweep(), [])
  clock.time = start + 1000
  t.equal((await store.readJobs(['job']))[0].running, 0, 'expired when the lease reaches now')
  t.equal((await store.sweep()).length, 1, 'and swept')

  const [renewed] = await store.claim('a', [fire('job', start + 1000)], 1000)
  clock.time = start + 1500
  const beat = await store.heartbeat('a', [(renewed as { fence: number }).fence], 1000)
  t.strictSame(beat, { now: start + 1500, lost: [] }, 'renewed at the clock\'s now')
  clock.time = start + 2499
  t.strictSame(await store.sweep(), [], 'the lease runs from the renewal')
  clock.time = start + 2500
  t.equal((await store.sweep()).length, 1)

  await store.heartbeat('old', [], 1000)
  clock.time += 5000
  await store.heartbeat('new', [], 1000)
  t.strictSame((await store.instances(4999)).map((instance) => instance.id).sort(), ['new'], 'within 4999 ms: only the latest')
  t.strictSame((await store.instances(5000)).map((instance) => instance.id).sort(), ['new', 'old'], 'within 5000 ms: both (inclusive); a was last seen earlier')
  t.strictSame((await store.instances(10_000)).map((instance) => [instance.id, instance.startedAt, instance.heartbeatAt]).sort(), [
    ['a', start, start + 1500],
    ['new', start + 7500, start + 7500],
    ['old', start + 2500, start + 2500]
  ], 'claims and reconciles count as reaching the store too')
})

t.test(`a job remembers its last ${HASH_HISTORY} definitions`, async (t) => {
  const store = memoryStore()
  await store.reconcile('a', [declare('job', 'h0')])
  for (let i = 1; i <= HASH_HISTORY; i++) await store.reconcile('a', [declare('job', `h${i}`)])
  const [latest] = await store.readJobs(['job'])
  t.equal(latest.version, HASH_HISTORY + 1)
  t.strictSame(await store.reconcile('a', [declare('job', 'h1')]), [latest], 'a definition still remembered does not come back')
  const [forgotten] = await store.reconcile('a', [declare('job', 'h0')])
  t.equal(forgotten.hash, 'h0', `one ${HASH_HISTORY} definitions back is forgotten: it counts as new`)
})

/** Runs `fn` with process.env[name] set to `value` (undefined: unset), then restores it. */
async function withEnv<T> (name: string, value: string | undefined, fn: () => Promise<T> | T): Promise<T> {
  const saved = process.env[name]
  setEnv(name, value)
  try {
    return await fn()
  } finally {
    setEnv(name, saved)
  }
}

function setEnv (name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}

t.test('services: where the servers are', async (t) => {
  await withEnv('DATABASE_URL', undefined, () => t.equal(databaseUrl(), 'postgres://postgres@127.0.0.1:5432/test', 'a local PostgreSQL by default'))
  await withEnv('DATABASE_URL', '', () => t.equal(databaseUrl(), 'postgres://postgres@127.0.0.1:5432/test', 'an empty DATABASE_URL is unset'))
  await withEnv('DATABASE_URL', 'postgres://db:5433/x', () => t.equal(databaseUrl(), 'postgres://db:5433/x', 'or DATABASE_URL'))
  await withEnv('REDIS_URL', undefined, () => t.equal(redisUrl(), 'redis://127.0.0.1:6379', 'a local Redis by default'))
  await withEnv('REDIS_URL', 'redis://cache:6380', () => t.equal(redisUrl(), 'redis://cache:6380', 'or REDIS_URL'))
  t.equal(withoutCredentials('postgres://user:secret@db:5432/x'), 'postgres://db:5432/x')
  t.equal(withoutCredentials('redis://:secret@cache:6379'), 'redis://cache:6379')
  t.equal(withoutCredentials('redis://cache:6379'), 'redis://cache:6379')
})

/** The Test methods requireService calls, typed simply (tap's overloads are too complex for capture's types). */
function methods (t: Test): { fail: (message: string) => boolean, skip: (name: string, fn: () => void) => unknown } {
  return t as unknown as { fail: (message: string) => boolean, skip: (name: string, fn: () => void) => unknown }
}

t.test('services: requireService', async (t) => {
  const refused = async (): Promise<void> => { throw new Error('cannot reach postgres://127.0.0.1:1/test: connect ECONNREFUSED') }
  const howTo = 'start it (see README) or set DATABASE_URL'

  await t.test('reachable: true, and the test goes on', async (t) => {
    const fail = t.capture(methods(t), 'fail')
    const skip = t.capture(methods(t), 'skip')
    t.equal(await withEnv('CI', 'true', async () => await requireService(t, 'PostgreSQL', async () => {}, howTo)), true)
    t.equal(fail().length + skip().length, 0)
  })

  await t.test('unreachable outside CI: skipped, saying how to run them', async (t) => {
    const skip = t.capture(methods(t), 'skip', () => undefined as never)
    t.equal(await withEnv('CI', undefined, async () => await requireService(t, 'PostgreSQL', refused, howTo)), false)
    const calls = skip()
    t.equal(calls.length, 1)
    t.equal(calls[0].args[0], `PostgreSQL not reachable (cannot reach postgres://127.0.0.1:1/test: connect ECONNREFUSED): ${howTo}`)
  })

  await t.test('unreachable in CI: failed, never skipped', async (t) => {
    const fail = t.capture(methods(t), 'fail', () => true)
    const skip = t.capture(methods(t), 'skip')
    t.equal(await withEnv('CI', 'true', async () => await requireService(t, 'Redis', async () => { throw Object.assign(new AggregateError([]), { code: 'ECONNREFUSED' }) }, howTo)), false)
    t.equal(skip().length, 0)
    t.strictSame(fail().map((call) => call.args[0]), ['Redis not reachable (ECONNREFUSED): in CI these tests must run, never be skipped'])
  })
})

t.test('services: the probes fail fast on a closed port and leave nothing open', async (t) => {
  const started = Date.now()
  await t.rejects(pgReachable('postgres://user:secret@127.0.0.1:1/test'), { message: /^cannot reach postgres:\/\/127\.0\.0\.1:1\/test: .*ECONNREFUSED/ })
  await t.rejects(redisReachable('redis://:secret@127.0.0.1:1'), { message: /^cannot reach redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/ })
  t.ok(Date.now() - started < 1000, `refused within a second (${Date.now() - started} ms for both)`)
})
