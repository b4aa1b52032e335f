/**
 * The Redis store against a real Redis (REDIS_URL, default
 * redis://127.0.0.1:6379): the shared Store suite, then what is particular to
 * Redis. Without a reachable Redis the file is skipped, except in CI where that
 * is a failure. Every test works under its own prefix and deletes it.
 */
import t from 'tap'
import type { Test } from 'tap'
import { Cluster, Redis } from 'ioredis'
import { ErrorCodes } from '../../lib/errors.js'
import { DEFAULT_JOB_OPTIONS } from '../../lib/job.js'
import { HASH_HISTORY } from '../../lib/stores/memory.js'
import { redisStore } from '../../lib/stores/redis.js'
import type { RedisStoreOptions } from '../../lib/stores/redis.js'
import { isStore } from '../../lib/stores/store.js'
import { redisReachable, redisUrl, requireService } from '../helpers/services.js'
import { storeSuite } from '../helpers/store-suite.js'
import type { Claim, DeclaredJob, RunEnd, SharedDefinition, Store } from '../../lib/stores/store.js'

const REDIS_URL = redisUrl()
/** Nothing listens on port 1: connections are refused at once. */
const UNREACHABLE_URL = 'redis://127.0.0.1:1'

/** The test's own connection, for inspecting and deleting keys. */
const admin = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
admin.on('error', () => {})

/** One prefix per test run and test, so runs and tests never see each other's keys. */
const RUN = `fst-test-${process.pid}-${Date.now().toString(36)}`
let prefixes = 0

/** A fresh prefix whose keys are deleted, and whose stores are closed, when `t` ends. */
function namespace (t: Test): { prefix: string, open: (options?: Partial<RedisStoreOptions>) => Promise<Store> } {
  const prefix = `${RUN}-${++prefixes}`
  const opened: Store[] = []
  t.teardown(async () => {
    try {
      await Promise.all(opened.map(async (store) => await store.close()))
    } finally {
      await dropPrefix(prefix)
    }
  })
  return {
    prefix,
    open: async (options = {}) => {
      const store = redisStore({ url: REDIS_URL, prefix, ...options })
      opened.push(store)
      await store.connect()
      return store
    }
  }
}

async function keysOf (prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    // Also under a client's keyPrefix (app:{prefix}:…).
    const [next, batch] = await admin.scan(cursor, 'MATCH', `*{${prefix}}:*`, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys
}

async function dropPrefix (prefix: string): Promise<void> {
  const keys = await keysOf(prefix)
  if (keys.length > 0) await admin.del(...keys)
}

function definitionOf (id: string, trigger: Record<string, unknown> = { interval: 1000 }): SharedDefinition {
  return { name: id, trigger, zone: 'UTC', options: { ...DEFAULT_JOB_OPTIONS } }
}

function declared (id: string, overrides: Partial<DeclaredJob> = {}): DeclaredJob {
  return { id, hash: `hash-${id}`, definition: definitionOf(id), paused: false, ...overrides }
}

let runIds = 0
function fire (jobId: string, scheduledAt: number, overrides: Partial<Claim> = {}): Claim {
  return { jobId, kind: 'fire', scheduledAt, missed: 0, maxInstances: 1, runId: `run-${++runIds}`, version: 1, ...overrides }
}

function ended (fence: number, jobId: string, overrides: Partial<RunEnd> = {}): RunEnd {
  return { fence, jobId, status: 'success', startedAt: 1000, finishedAt: 1012, durationMs: 12.5, error: null, ...overrides }
}

function registerTests (): void {
  t.test('the shared Store suite', async (t) => {
    await storeSuite(t, {
      open: (name) => redisStore({ url: REDIS_URL, prefix: `${RUN}-${name}` }),
      drop: async (name) => await dropPrefix(`${RUN}-${name}`)
    })
  })

  t.test('options are validated, naming the option and its value', async (t) => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /option options null/],
      [{}, /option url undefined: must be a redis:\/\/ or rediss:\/\/ URL/],
      [{ url: 'http://user:secret@example.com' }, /option url "http:\/\/\*\*\*@example.com"/],
      [{ url: 'not a url' }, /option url "not a url"/],
      [{ url: 42 }, /option url 42/],
      [{ url: REDIS_URL, client: admin }, /option url .*: give either client or url, not both/],
      [{ client: {} }, /option client \{\}: must be an ioredis Redis or Cluster instance/],
      [{ client: 'redis' }, /option client "redis"/],
      [{ url: REDIS_URL, prefix: '' }, /option prefix "": must be a non-empty string without \{ or \}/],
      [{ url: REDIS_URL, prefix: 'a{b}' }, /option prefix "a\{b\}"/],
      [{ url: REDIS_URL, prefix: 7 }, /option prefix 7/],
      [{ url: REDIS_URL, connectTimeout: 0 }, /option connectTimeout 0: must be a positive number/],
      [{ url: REDIS_URL, connectTimeout: Number.NaN }, /option connectTimeout NaN/],
      [{ url: REDIS_URL, connectTimeout: '5s' }, /option connectTimeout "5s"/]
    ]
    for (const [index, [options, message]] of cases.entries()) {
      t.throws(() => redisStore(options as RedisStoreOptions), { code: ErrorCodes.INVALID_OPTION, message }, `case ${index}`)
    }
    t.notMatch(t.throws(() => redisStore({ url: 'redis://:secret@h:1', client: admin })), /secret/, 'no password in messages')
  })

  t.test('kind and address, without credentials', async (t) => {
    const store = redisStore({ url: 'redis://user:secret@127.0.0.1:6390/4' })
    t.ok(isStore(store))
    t.equal(store.kind, 'redis')
    t.equal(store.address, 'redis://127.0.0.1:6390/4')
    t.equal(redisStore({ url: 'rediss://:secret@cache.example.com' }).address, 'rediss://cache.example.com:6379/0')
    t.equal(redisStore({ url: 'redis://[::1]:6379/2' }).address, 'redis://[::1]:6379/2')
    const socket = new Redis({ path: '/run/redis.sock', db: 1, lazyConnect: true })
    t.equal(redisStore({ client: socket }).address, 'redis+unix:///run/redis.sock?db=1')
    const cluster = new Cluster([{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2' }, {}, 7001, 'redis://:secret@10.0.0.3:7002'], { lazyConnect: true })
    t.equal(redisStore({ client: cluster }).address, 'redis-cluster://10.0.0.1:7000,10.0.0.2:6379,localhost:6379,localhost:7001,redis://***@10.0.0.3:7002')
  })

  t.test('an unreachable server: connect() fails fast with STORE_UNAVAILABLE naming the store', async (t) => {
    const store = redisStore({ url: UNREACHABLE_URL })
    const started = Date.now()
    const error = await t.rejects(store.connect(), {
      code: ErrorCodes.STORE_UNAVAILABLE,
      message: /^The redis store at redis:\/\/127\.0\.0\.1:1\/0 is unavailable \(connect\): .*ECONNREFUSED/
    })
    t.ok(Date.now() - started < 3000, 'within a few seconds')
    t.match(error, { cause: { code: 'ECONNREFUSED' } })
    await t.rejects(store.connect(), { code: ErrorCodes.STORE_UNAVAILABLE }, 'a second attempt starts over, and fails alike')
    await store.close()
    await t.rejects(store.now(), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(now\)/ }, 'calls fail at once, never queue')
  })

  t.test("a user's client that never answers: connect() gives up after connectTimeout", async (t) => {
    // Its own settings queue commands and retry forever: only the store's timeout ends the wait.
    const client = new Redis(UNREACHABLE_URL, { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 20 })
    client.on('error', () => {})
    t.teardown(() => client.disconnect())
    const store = redisStore({ client, connectTimeout: 200 })
    await t.rejects(store.connect(), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(connect\): no answer within 200 ms/ })
    t.not(client.status, 'end', "the user's client is left alone")
  })

  t.test("close() quits a client the store created, never the user's", async (t) => {
    const { prefix, open } = namespace(t)
    const owned = await open()
    await owned.connect()
    t.type(await owned.now(), 'number', 'connect() twice is harmless')
    await owned.close()
    await t.rejects(owned.now(), { code: ErrorCodes.STORE_UNAVAILABLE })
    await t.resolves(Promise.all([owned.close(), owned.close()]), 'closing again is harmless')

    const client = new Redis(REDIS_URL)
    t.teardown(async () => { await client.quit() })
    const store = redisStore({ client, prefix })
    await store.connect()
    await store.reconcile('a', [declared('job')])
    await store.close()
    t.equal(client.status, 'ready')
    t.equal(await client.hget(`{${prefix}}:job:job`, 'id'), 'job', 'still usable')
  })

  t.test('the store clock is Redis TIME in epoch ms', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    const [seconds, micros] = await admin.time()
    const now = await store.now()
    t.ok(Number.isInteger(now))
    t.ok(Math.abs(now - (Number(seconds) * 1000 + Math.floor(Number(micros) / 1000))) < 1000)
  })

  t.test('values round-trip exactly: JSON as given, numbers as numbers', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    const trigger = { cron: '0 * * * *', note: 'ünïcode / "quoted" \\ \n', big: 2 ** 53 - 1, fraction: 0.1 + 0.2, tiny: 5e-324, nested: [null, false, {}] }
    const [job] = await store.reconcile('ïnstance "1"', [declared('jöb:1', { definition: definitionOf('jöb:1', trigger) })])
    t.same(job.definition, definitionOf('jöb:1', trigger))
    t.same(job.stats, { runs: 0, successes: 0, failures: 0, missed: 0, skipped: 0 })
    t.type(job.anchorAt, 'number')
    const scheduledAt = (await store.now()) - 0.5
    const [won] = await store.claim('ïnstance "1"', [fire('jöb:1', scheduledAt, { runId: 'rün "1" /', missed: 3 })], 60_000)
    const error = { name: 'TypeError', message: 'bööm / "quoted" \\ \u0000' }
    const end = ended((won as { fence: number }).fence, 'jöb:1', { status: 'error', error, durationMs: 1234.5678901234567, startedAt: 1_700_000_000_123, finishedAt: 1_700_000_001_357 })
    t.same(await store.finish('ïnstance "1"', [end]), [true])
    const [stored] = await store.readJobs(['jöb:1'])
    t.same(stored.lastRun, {
      runId: 'rün "1" /', scheduledAt, startedAt: end.startedAt, finishedAt: end.finishedAt, durationMs: end.durationMs, status: 'error', error, instanceId: 'ïnstance "1"'
    })
    t.match(stored, { watermark: scheduledAt, version: 1, running: 0, stats: { runs: 1, failures: 1, missed: 3 } })
    t.same((await store.instances(60_000)).map((instance) => instance.id), ['ïnstance "1"'])
  })

  t.test(`the hash history keeps the last ${HASH_HISTORY} definitions`, async (t) => {
    const { open } = namespace(t)
    const store = await open()
    for (let version = 0; version <= HASH_HISTORY; version++) {
      await store.reconcile('a', [declared('job', { hash: `v${version}` })])
    }
    t.equal((await store.readJobs(['job']))[0].version, HASH_HISTORY + 1)
    const [old] = await store.reconcile('a', [declared('job', { hash: 'v1' })])
    t.match(old, { hash: `v${HASH_HISTORY}`, version: HASH_HISTORY + 1 }, 'v1 is remembered: ignored')
    const [forgotten] = await store.reconcile('a', [declared('job', { hash: 'v0' })])
    t.match(forgotten, { hash: 'v0', version: HASH_HISTORY + 2 }, 'v0 fell out of the history: it redefines again')
  })

  t.test('changeJob like the reference: resume re-anchors only a paused job; a redefinition always applies', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    const [job] = await store.reconcile('a', [declared('job')])
    t.match(await store.changeJob('job', { paused: false }), { paused: false, version: 2, anchorAt: job.anchorAt }, 'not paused: the anchor stays')
    await store.changeJob('job', { definition: definitionOf('job', { interval: 5000 }), hash: 'hash-new' })
    t.match(await store.changeJob('job', { definition: definitionOf('job'), hash: 'hash-job' }), { hash: 'hash-job', version: 4 }, 'even back to a hash in the history')
  })

  t.test('claim: runs whose lease expired do not count toward maxInstances', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    await store.reconcile('a', [declared('job')])
    const now = await store.now()
    t.match(await store.claim('a', [fire('job', now - 2)], 0), [{ status: 'run' }])
    t.match(await store.readJobs(['job']), [{ running: 0 }], 'lease 0: expired at once')
    t.match(await store.claim('a', [fire('job', now - 1)], 60_000), [{ status: 'run' }])
  })

  t.test('rerun: not while paused; once per fire', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    await store.reconcile('a', [declared('job')])
    const now = await store.now()
    await store.claim('a', [fire('job', now - 1)], 0)
    t.match(await store.sweep(), [{ jobId: 'job', scheduledAt: now - 1, attempt: 1 }])
    await store.changeJob('job', { paused: true })
    t.match(await store.claim('b', [fire('job', now - 1, { kind: 'rerun' })], 0), [{ status: 'paused' }])
    await store.changeJob('job', { paused: false })
    t.match(await store.claim('b', [fire('job', now - 1, { kind: 'rerun' }), fire('job', now - 1, { kind: 'rerun' })], 0), [{ status: 'run' }, { status: 'taken' }])
    t.match(await store.sweep(), [{ instanceId: 'b', attempt: 2 }])
  })

  t.test('sweep returns runs in fence order', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    await store.reconcile('a', [declared('job')])
    const now = await store.now()
    // The first run's lease ends last (the others' ended before they began): the zset order is not the fence order.
    const first = await store.claim('a', [fire('job', now - 3, { maxInstances: 9 })], 0)
    const rest = await store.claim('a', [fire('job', now - 2, { maxInstances: 9 }), fire('job', now - 1, { maxInstances: 9 })], -1000)
    const fences = [...first, ...rest].map((outcome) => (outcome as { fence: number }).fence)
    t.same((await store.sweep()).map((run) => run.fence), fences)
  })

  t.test('a run whose job was deleted behind the store ends without recreating the job', async (t) => {
    const { prefix, open } = namespace(t)
    const store = await open()
    await store.reconcile('a', [declared('job')])
    const now = await store.now()
    const [run, lost] = (await store.claim('a', [fire('job', now - 2, { maxInstances: 2 }), fire('job', now - 1, { maxInstances: 2 })], 0))
      .map((outcome) => (outcome as { fence: number }).fence)
    await admin.del(`{${prefix}}:job:job`)
    t.same(await store.finish('a', [ended(run, 'job')]), [true])
    t.match(await store.sweep(), [{ fence: lost }])
    t.same(await store.readJobs(['job']), [])
    t.equal(await admin.exists(`{${prefix}}:job:job`), 0)
  })

  t.test('a live run whose record was deleted behind the store is dropped by sweep', async (t) => {
    const { prefix, open } = namespace(t)
    const store = await open()
    await store.reconcile('a', [declared('job')])
    const now = await store.now()
    const [outcome] = await store.claim('a', [fire('job', now - 1)], 0)
    await admin.del(`{${prefix}}:run:${(outcome as { fence: number }).fence}`)
    t.same(await store.sweep(), [])
    t.equal(await admin.zcard(`{${prefix}}:live`), 0)
  })

  t.test('instances: in the order first seen, any window; leave', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    await store.heartbeat('first', [], 1000)
    await store.claim('second', [], 1000)
    const [firstSeen] = await store.instances(60_000)
    await store.reconcile('first', [])
    const seen = await store.instances(60_000)
    t.same(seen.map((instance) => instance.id), ['first', 'second'], 'in the order first seen')
    t.ok(seen[0].heartbeatAt >= firstSeen.heartbeatAt)
    t.equal(seen[0].startedAt, firstSeen.startedAt, 'startedAt stays')
    t.ok(seen.every((instance) => typeof instance.heartbeatAt === 'number' && typeof instance.startedAt === 'number'))
    t.same((await store.instances(Infinity)).map((instance) => instance.id), ['first', 'second'])
    t.same(await store.instances(-60_000), [], 'none within a window that ends before now')
    await store.leave('first')
    t.same((await store.instances(Infinity)).map((instance) => instance.id), ['second'])
    await store.heartbeat('first', [], 1000)
    const rejoined = (await store.instances(Infinity)).find((instance) => instance.id === 'first')
    t.ok(rejoined !== undefined && rejoined.startedAt >= firstSeen.startedAt, 'seen anew after leaving')
  })

  t.test('subscribe: changes reach other instances; unsubscribe and close() end the connection', async (t) => {
    const { prefix, open } = namespace(t)
    const [a, b] = [await open(), await open()]
    await a.reconcile('a', [declared('job')])
    const channel = `{${prefix}}:changes`
    let notify: (ids: string[]) => void = () => {}
    const unsubscribe = await b.subscribe((ids) => notify(ids))
    const received = new Promise<string[]>((resolve) => { notify = resolve })
    await a.changeJob('job', { paused: true })
    t.same(await received, ['job'])
    t.same(await admin.pubsub('NUMSUB', channel), [channel, 1])
    await unsubscribe()
    t.same(await admin.pubsub('NUMSUB', channel), [channel, 0], 'unsubscribe quits the connection')

    await b.subscribe(() => {})
    t.same(await admin.pubsub('NUMSUB', channel), [channel, 1])
    await b.close()
    t.same(await admin.pubsub('NUMSUB', channel), [channel, 0], 'close() ends subscriptions left open')
  })

  t.test('subscribe: a dropped connection reconnects and subscribes again by itself', async (t) => {
    const { prefix, open } = namespace(t)
    const [a, b] = [await open(), await open()]
    await a.reconcile('a', [declared('job')])
    const channel = `{${prefix}}:changes`
    const before = await pubsubClients()
    let notify: (ids: string[]) => void = () => {}
    await b.subscribe((ids) => notify(ids))
    const ours = [...await pubsubClients()].filter((id) => !before.has(id))
    t.equal(ours.length, 1, 'one new subscriber connection')
    await admin.client('KILL', 'ID', ours[0])
    await eventually(async () => (await admin.pubsub('NUMSUB', channel))[1] === 1 && !(await pubsubClients()).has(ours[0]), 'resubscribed')
    const received = new Promise<string[]>((resolve) => { notify = resolve })
    await a.changeJob('job', { paused: true })
    t.same(await received, ['job'])
  })

  t.test("a user's client with a keyPrefix: keys under it, notifications still delivered", async (t) => {
    const { prefix } = namespace(t)
    const client = new Redis(REDIS_URL, { keyPrefix: 'app:' })
    t.teardown(async () => { await client.quit() })
    const [a, b] = [redisStore({ client, prefix }), redisStore({ client, prefix })]
    await a.connect()
    await a.reconcile('a', [declared('job')])
    t.equal(await admin.hget(`app:{${prefix}}:job:job`, 'id'), 'job')
    let notify: (ids: string[]) => void = () => {}
    const unsubscribe = await b.subscribe((ids) => notify(ids))
    const received = new Promise<string[]>((resolve) => { notify = resolve })
    await a.changeJob('job', { paused: true })
    t.same(await received, ['job'])
    await unsubscribe()
    t.ok((await keysOf(prefix)).every((key) => key.startsWith(`app:{${prefix}}:`)))
  })

  t.test("subscribe: a connection that can't be made rejects with STORE_UNAVAILABLE", async (t) => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, clusterRetryStrategy: () => null })
    const store = redisStore({ client: cluster })
    await t.rejects(store.subscribe(() => {}), { code: ErrorCodes.STORE_UNAVAILABLE, message: /redis-cluster:\/\/127\.0\.0\.1:1 is unavailable \(subscribe\)/ })
    await store.close()
    t.equal(cluster.status, 'wait', "the user's cluster client was never touched")
  })

  t.test('scripts come back after SCRIPT FLUSH (NOSCRIPT → EVAL)', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    await store.reconcile('a', [declared('job')])
    await admin.script('FLUSH')
    const now = await store.now()
    t.match(await store.claim('a', [fire('job', now - 1)], 1000), [{ status: 'run' }])
    t.match(await store.readJobs(['job']), [{ running: 1 }])
  })

  t.test('every key, and the channel, carry the hash tag {prefix}: one Cluster slot', async (t) => {
    const { prefix, open } = namespace(t)
    const store = await open()
    await store.reconcile('a', [declared('job'), declared('b:c')])
    const now = await store.now()
    const [run] = await store.claim('a', [fire('job', now - 2), fire('b:c', now - 1)], 0)
    await store.finish('a', [ended((run as { fence: number }).fence, 'job')])
    await store.claim('a', [fire('job', now - 2, { kind: 'rerun' })], 60_000)
    await store.heartbeat('a', [], 1000)
    const keys = await keysOf(prefix)
    t.ok(keys.length >= 8, keys.join(' '))
    for (const key of keys) t.ok(key.startsWith(`{${prefix}}:`), key)
    t.same(new Set(keys.map(hashTag)), new Set([prefix]))
  })

  t.test('3 instances claiming the same 1,000 fires concurrently: each fire won exactly once', async (t) => {
    const { open } = namespace(t)
    const stores = [await open(), await open(), await open()]
    const jobs = Array.from({ length: 10 }, (_, index) => `job-${index}`)
    await stores[0].reconcile('setup', jobs.map((id) => declared(id)))
    const now = await stores[0].now()
    const firesPerJob = 100
    const batch = 10
    const wins = new Map<string, string[]>()
    const fences = new Set<number>()

    // Each instance walks every job's fires in order, a batch per call, all jobs at once.
    async function instance (store: Store, name: string): Promise<void> {
      await Promise.all(jobs.map(async (jobId) => {
        for (let start = 0; start < firesPerJob; start += batch) {
          const claims = Array.from({ length: batch }, (_, offset) => fire(jobId, now - firesPerJob + start + offset, { maxInstances: 1000 }))
          const outcomes = await store.claim(name, claims, 60_000)
          outcomes.forEach((outcome, index) => {
            if (outcome.status === 'run') {
              const key = `${jobId}@${claims[index].scheduledAt}`
              wins.set(key, [...wins.get(key) ?? [], name])
              fences.add(outcome.fence)
            } else if (outcome.status !== 'taken') {
              t.fail(`unexpected ${outcome.status}`)
            }
          })
        }
      }))
    }
    await Promise.all(stores.map(async (store, index) => await instance(store, `i${index}`)))
    t.equal(wins.size, jobs.length * firesPerJob, 'every fire won')
    t.ok([...wins.values()].every((winners) => winners.length === 1), 'by one instance each')
    t.equal(fences.size, jobs.length * firesPerJob, 'with distinct fences')
    const stored = await stores[1].readJobs(jobs)
    t.equal(stored.reduce((sum, job) => sum + job.stats.runs, 0), jobs.length * firesPerJob)
    t.ok(stored.every((job) => job.watermark === now - 1 && job.running === firesPerJob))
  })
}

/** Ids of the server's connections in subscriber mode. */
async function pubsubClients (): Promise<Set<string>> {
  const list = await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub') as string
  return new Set(list.split('\n').flatMap((line) => /^id=(\d+) /.exec(line)?.[1] ?? []))
}

/** Waits for something ioredis does on its own timers (a reconnection), checking every 20 ms for up to 5 s. */
async function eventually (check: () => Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 250; attempt++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`not ${what} within 5 s`)
}

/** Redis Cluster hashes the part of a key between its first `{` and the next `}`. */
function hashTag (key: string): string {
  const open = key.indexOf('{')
  return key.slice(open + 1, key.indexOf('}', open + 1))
}

if (await requireService(t, 'Redis', async () => await redisReachable(REDIS_URL), 'start one (redis-server) or set REDIS_URL to run these tests')) {
  await admin.connect()
  t.teardown(async () => { await admin.quit() })
  registerTests()
}
