/**
 * The PostgreSQL store against a real server (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test). Without one the file is skipped, except in
 * CI where that is a failure. Every test works in a schema (or under a table
 * prefix) of its own and drops it at the end.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { userInfo } from 'node:os'
import t from 'tap'
import type { Test } from 'tap'
import pg from 'pg'
import { ErrorCodes } from '../../lib/errors.js'
import { DEFAULT_JOB_OPTIONS } from '../../lib/job.js'
import { HASH_HISTORY, memoryStore } from '../../lib/stores/memory.js'
import { postgresStore } from '../../lib/stores/postgres.js'
import type { PostgresStoreOptions } from '../../lib/stores/postgres.js'
import { isStore } from '../../lib/stores/store.js'
import type { Claim, ClaimOutcome, DeclaredJob, RunEnd, SharedDefinition, Store, StoredJob } from '../../lib/stores/store.js'
import { databaseUrl, pgReachable, requireService } from '../helpers/services.js'
import { decide, storeSuite } from '../helpers/store-suite.js'

// node-postgres takes the default user from USER, where libpq (psql) asks the OS:
// without USER (containers, CI), a URL that names no user would not connect.
if ((process.env.PGUSER ?? '') === '' && (process.env.USER ?? '') === '') process.env.PGUSER = userInfo().username

// The shared suite, the tests at volume (5,000 jobs) and the concurrent ones take a while on a busy server.
t.setTimeout(120_000)

const DATABASE_URL = databaseUrl()
/** Nothing listens on port 1: connections are refused at once. */
const UNREACHABLE_URL = 'postgres://someone:secret@127.0.0.1:1/test'
const LATER = 60_000

/** One schema per test run for the tests below (the shared suite makes one per namespace). */
const RUN = `fst_${process.pid}_${randomBytes(3).toString('hex')}`
let prefixes = 0

/** The tests' own pool, for inspecting and dropping what the stores create. */
const admin = new pg.Pool({ connectionString: DATABASE_URL })
admin.on('error', () => {})

function fresh (): string {
  return `p${++prefixes}_`
}

/** Stores on one fresh prefix in the run's schema, closed when `t` ends (the schema goes at the end of the run). */
function namespace (t: Test, more: Partial<PostgresStoreOptions> = {}): { prefix: string, open: (options?: Partial<PostgresStoreOptions>) => Promise<Store> } {
  const prefix = fresh()
  const opened: Store[] = []
  t.teardown(async () => { await Promise.all(opened.map(async (store) => { await store.close() })) })
  return {
    prefix,
    open: async (options = {}) => {
      const store = postgresStore({ connectionString: DATABASE_URL, schema: RUN, tablePrefix: prefix, ...more, ...options })
      opened.push(store)
      await store.connect()
      return store
    }
  }
}

/** The tables, functions and sequences under `prefix` in `schema`, by kind. */
async function objectsOf (schema: string, prefix: string): Promise<string[]> {
  const { rows } = await admin.query<{ name: string }>(`
    SELECT c.relkind::text || ' ' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND starts_with(c.relname, $2) AND c.relkind IN ('r', 'S', 'i')
    UNION ALL
    SELECT 'f ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = $1 AND starts_with(p.proname, $2)
    ORDER BY 1`, [schema, prefix])
  return rows.map((row) => row.name)
}

/** Drops what a store created under `prefix` in a schema shared with others (e.g. public). */
async function dropPrefix (schema: string, prefix: string): Promise<void> {
  const { rows } = await admin.query<{ drop: string }>(`
    SELECT format('DROP TABLE IF EXISTS %I.%I CASCADE', n.nspname, c.relname) AS drop FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND starts_with(c.relname, $2) AND c.relkind = 'r'
    UNION ALL
    SELECT format('DROP FUNCTION IF EXISTS %s CASCADE', p.oid::regprocedure) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = $1 AND starts_with(p.proname, $2)`, [schema, prefix])
  for (const { drop } of rows) await admin.query(drop)
}

async function dropSchema (schema: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
}

function definitionOf (id: string, trigger: Record<string, unknown> = { interval: 1000 }): SharedDefinition {
  return { name: id, trigger, zone: 'UTC', options: { ...DEFAULT_JOB_OPTIONS } }
}

function declared (id: string, overrides: Partial<DeclaredJob> = {}): DeclaredJob {
  return { id, hash: `hash-${id}`, definition: definitionOf(id), paused: false, ...overrides }
}

function fire (jobId: string, scheduledAt: number, overrides: Partial<Claim> = {}): Claim {
  return { jobId, kind: 'fire', scheduledAt, missed: 0, maxInstances: 1, runId: randomUUID(), version: 1, ...overrides }
}

function ended (fence: number, jobId: string, overrides: Partial<RunEnd> = {}): RunEnd {
  return { fence, jobId, status: 'success', startedAt: 1000, finishedAt: 1012, durationMs: 12, error: null, ...overrides }
}

function fenceOf (outcome: ClaimOutcome): number {
  return (outcome as { fence: number }).fence
}

/** A job without the times its store's clock set (to compare with the memory store). */
function timeless (job: StoredJob): Omit<StoredJob, 'anchorAt'> {
  const { anchorAt, lastRun, ...rest } = job
  return { ...rest, lastRun: lastRun === null ? null : { ...lastRun, startedAt: 0 } }
}

/** Numbers in [0, 1) from `seed`, the same sequence every run (xorshift32): random tests that replay. */
function seeded (seed: number): () => number {
  let state = seed | 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 2 ** 32
  }
}

function numeric (x: number, y: number): number {
  return x - y
}

/** An outcome as both stores give it: an early claim's `now` is its store's clock. */
function comparable (outcome: ClaimOutcome): ClaimOutcome {
  return outcome.status === 'early' ? { status: 'early', now: 0 } : outcome
}

/** A listener whose calls can be awaited one by one. */
function recorder (): { listener: (ids: string[]) => void, calls: string[][], next: () => Promise<string[]> } {
  const calls: string[][] = []
  let waiting: Array<(ids: string[]) => void> = []
  return {
    calls,
    listener: (ids) => {
      calls.push(ids)
      const resolvers = waiting
      waiting = []
      for (const resolve of resolvers) resolve(ids)
    },
    next: async () => await new Promise((resolve) => { waiting.push(resolve) })
  }
}

/** `promise`'s value, or undefined when it takes longer than `ms` (a bound for retries, never a wait for time to pass). */
async function within<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => { resolve(undefined) }, ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Changes `jobId` until `heard` is notified of it: after a broken LISTEN
 * connection the store re-LISTENs with backoff, so the first changes may go
 * unheard. Bounded: fails after `attempts` tries.
 */
async function heardAgain (t: Test, store: Store, jobId: string, heard: ReturnType<typeof recorder>, attempts = 40): Promise<void> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const next = heard.next()
    await store.changeJob(jobId, { paused: attempt % 2 === 1 })
    const ids = await within(next, 250)
    if (ids !== undefined) {
      t.same(ids, [jobId], `notified again (attempt ${attempt})`)
      return
    }
  }
  t.fail(`no notification after ${attempts} changes`)
}

/** The pid of the backend LISTENing on a store's channel (its last statement). */
async function listenerPids (schema: string, prefix: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()', [`LISTEN "${schema}.${prefix}changes"`])
  return rows.map((row) => row.pid)
}

interface Gate {
  /** Resolves when the store next asks the pool for a connection; the store waits until `pass` or `fail`. */
  asked: () => Promise<void>
  pass: () => void
  fail: (error: Error) => void
}

/**
 * A user's pool whose connect() can be held and failed by the test, to drive
 * the subscription's retries. Only for LISTEN: the promise-only connect() it
 * gets would break pool.query(), which connects with a callback.
 */
function gatedPool (t: Test): { pool: pg.Pool, gate: () => Gate, connects: () => number } {
  const pool = new pg.Pool({ connectionString: DATABASE_URL })
  pool.on('error', () => {})
  t.teardown(async () => { await pool.end() })
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>
  const gates: Array<{ asked: () => void, held: Promise<void> }> = []
  let count = 0
  Object.assign(pool, {
    connect: async () => {
      count++
      const next = gates.shift()
      if (next !== undefined) {
        next.asked()
        await next.held
      }
      return await connect()
    }
  })
  return {
    pool,
    connects: () => count,
    gate: () => {
      let asked!: () => void
      const whenAsked = new Promise<void>((resolve) => { asked = resolve })
      let pass!: () => void
      let fail!: (error: Error) => void
      const held = new Promise<void>((resolve, reject) => { pass = resolve; fail = reject })
      gates.push({ asked, held })
      return { asked: async () => { await whenAsked }, pass, fail }
    }
  }
}

function registerTests (): void {
  t.teardown(async () => {
    await dropSchema(RUN)
    await admin.end()
  })

  t.test('the shared Store suite (a schema per namespace)', async (t) => {
    await storeSuite(t, {
      open: (name) => postgresStore({ connectionString: DATABASE_URL, schema: `${RUN}_${name}` }),
      drop: async (name) => { await dropSchema(`${RUN}_${name}`) }
    })
  })

  t.test('options are validated, naming the option and its value', async (t) => {
    const pool = new pg.Pool({ connectionString: 'postgres://user:secret@127.0.0.1:1/db' })
    t.teardown(async () => { await pool.end() })
    const cases: Array<[unknown, RegExp]> = [
      [null, /option options null: expected an object/],
      ['postgres://x', /option options "postgres:\/\/x"/],
      [{}, /option pool undefined: expected a pg.Pool \(or give connectionString instead\)/],
      [{ pool: {} }, /option pool "\[object Object\]": expected a pg.Pool/],
      [{ pool: 'pool' }, /option pool "pool"/],
      [{ pool, connectionString: 'postgres://user:secret@h/db' }, /option connectionString "\(a connection string\)": give either pool or connectionString, not both/],
      [{ connectionString: '' }, /option connectionString "": expected a PostgreSQL URL/],
      [{ connectionString: 42 }, /option connectionString 42/],
      [{ connectionString: { host: 'h' } }, /option connectionString "\[object Object\]"/],
      [{ pool, schema: 'my-schema' }, /option schema "my-schema": expected an SQL identifier/],
      [{ pool, schema: '1st' }, /option schema "1st"/],
      [{ pool, schema: 'a"; DROP TABLE x; --' }, /option schema "a\\"; DROP TABLE x; --"/],
      [{ pool, schema: 's'.repeat(64) }, /option schema "s{64}": .*at most 63 characters/],
      [{ pool, schema: '' }, /option schema ""/],
      [{ pool, schema: 7 }, /option schema 7/],
      [{ pool, tablePrefix: 'sched.' }, /option tablePrefix "sched\.": expected an SQL identifier/],
      [{ pool, tablePrefix: '' }, /option tablePrefix ""/],
      [{ pool, tablePrefix: null }, /option tablePrefix null/],
      [{ pool, tablePrefix: 'p'.repeat(50) }, /option tablePrefix "p{50}": .*at most 49 characters with schema "public"/],
      [{ pool, schema: 's'.repeat(40), tablePrefix: 'abcdefghijklmnop' }, /option tablePrefix "abcdefghijklmnop": .*at most 15 characters with schema "s{40}"/]
    ]
    for (const [index, [options, message]] of cases.entries()) {
      t.throws(() => postgresStore(options as PostgresStoreOptions), { code: ErrorCodes.INVALID_OPTION, message }, `case ${index}`)
    }
    t.notMatch(t.throws(() => postgresStore({ pool, connectionString: 'postgres://user:secret@h/db' })), /secret/, 'no password in messages')
    t.ok(isStore(postgresStore({ pool, schema: 's'.repeat(63 - 26), tablePrefix: 'p'.repeat(18) })), 'the longest names that fit')
    t.ok(isStore(postgresStore({ pool, tablePrefix: 'p'.repeat(49) })))
  })

  t.test('kind and address, without credentials', async (t) => {
    const store = postgresStore({ connectionString: 'postgres://user:secret@db.example.com:6543/app?sslmode=disable' })
    t.teardown(async () => { await store.close() })
    t.equal(store.kind, 'postgres')
    t.equal(store.address, 'postgres://db.example.com:6543/app')
    const v6 = postgresStore({ connectionString: 'postgresql://user:secret@[::1]/app' })
    t.equal(v6.address, 'postgres://[::1]:5432/app', 'an IPv6 host in brackets, the default port')
    await v6.close()
    const pool = new pg.Pool({ host: '10.1.2.3', port: 5433, database: 'jobs', user: 'u', password: 'secret' })
    t.teardown(async () => { await pool.end() })
    t.equal(postgresStore({ pool }).address, 'postgres://10.1.2.3:5433/jobs', 'from the pool\'s options')
    const fromUrl = new pg.Pool({ connectionString: 'postgres://u:secret@10.9.9.9/other' })
    t.teardown(async () => { await fromUrl.end() })
    t.equal(postgresStore({ pool: fromUrl }).address, 'postgres://10.9.9.9:5432/other', 'from the pool\'s connection string')

    // No database and no user anywhere (pg's database defaults to the user's name): the address says so.
    const saved = { env: { PGUSER: process.env.PGUSER, PGDATABASE: process.env.PGDATABASE }, user: pg.defaults.user, database: pg.defaults.database }
    t.teardown(() => {
      // process.env turns undefined into "undefined": unset variables are deleted instead.
      for (const [name, value] of Object.entries(saved.env)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      Object.assign(pg.defaults, { user: saved.user, database: saved.database })
    })
    delete process.env.PGUSER
    delete process.env.PGDATABASE
    Object.assign(pg.defaults, { user: undefined, database: undefined })
    const nameless = postgresStore({ connectionString: 'postgres://db.example.com' })
    t.equal(nameless.address, 'postgres://db.example.com:5432/')
    await nameless.close()
  })

  t.test('an unreachable server: every call rejects with STORE_UNAVAILABLE naming the store and where', async (t) => {
    const store = postgresStore({ connectionString: UNREACHABLE_URL })
    t.teardown(async () => { await store.close() })
    const error = await t.rejects(store.connect(), {
      code: ErrorCodes.STORE_UNAVAILABLE,
      message: /^The postgres store at postgres:\/\/127\.0\.0\.1:1\/test is unavailable \(connect\): .*ECONNREFUSED/
    })
    t.match(error, { cause: { code: 'ECONNREFUSED' } })
    t.notMatch(String((error as Error).message), /secret|someone/, 'no credentials')
    await t.rejects(store.now(), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(now\)/ })
    await t.rejects(store.claim('a', [], 1000), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(claim\)/ })
    await t.rejects(store.leave('a'), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(leave\)/ })
    await t.rejects(store.subscribe(() => {}), { code: ErrorCodes.STORE_UNAVAILABLE, message: /^The postgres store at postgres:\/\/127\.0\.0\.1:1\/test is unavailable \(subscribe\)/ })

    const pool = new pg.Pool({ connectionString: UNREACHABLE_URL })
    t.teardown(async () => { await pool.end() })
    const pooled = postgresStore({ pool })
    await t.rejects(pooled.connect(), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(connect\)/ })
    await t.rejects(pooled.subscribe(() => {}), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(subscribe\)/ }, 'a listener from the user\'s pool too')
  })

  t.test('connect(): ten instances creating the schema at once, on a fresh prefix of public', async (t) => {
    const prefix = `fst_${process.pid}_${randomBytes(3).toString('hex')}_`
    const stores = Array.from({ length: 10 }, () => postgresStore({ connectionString: DATABASE_URL, tablePrefix: prefix }))
    t.teardown(async () => {
      await Promise.all(stores.map(async (store) => { await store.close() }))
      await dropPrefix('public', prefix)
    })
    await Promise.all(stores.map(async (store) => { await store.connect() }))
    const objects = await objectsOf('public', prefix)
    t.same(objects, [
      'S arrivals', 'S fences',
      'f change_job', 'f claim', 'f claim_steps', 'f finish', 'f heartbeat', 'f now', 'f push_hash', 'f reconcile', 'f sweep', 'f touch',
      'i instances_pkey', 'i jobs_pkey', 'i reruns_pkey', 'i runs_by_job', 'i runs_by_lease', 'i runs_pkey', 'i stats_pkey',
      'r instances', 'r jobs', 'r reruns', 'r runs', 'r stats'
    ].map((name) => `${name.slice(0, 2)}${prefix}${name.slice(2)}`), 'each object once, all in public')
    await Promise.all(stores.map(async (store) => { await store.connect() }))
    t.same(await objectsOf('public', prefix), objects, 'connecting again changes nothing')
    const jobs = await Promise.all(stores.map(async (store, i) => await store.reconcile(`i${i}`, [declared('job')])))
    t.same(new Set(jobs.map(([job]) => job.version)), new Set([1]), 'and the store works')
  })

  t.test('connect(): stores under different prefixes creating one new schema at once', async (t) => {
    const schema = `${RUN}_shared`
    const stores = Array.from({ length: 6 }, (_, i) => postgresStore({ connectionString: DATABASE_URL, schema, tablePrefix: `p${i}_` }))
    t.teardown(async () => {
      await Promise.all(stores.map(async (store) => { await store.close() }))
      await dropSchema(schema)
    })
    await Promise.all(stores.map(async (store) => { await store.connect() }))
    for (const [i, store] of stores.entries()) {
      t.same((await store.reconcile('a', [declared(`job-${i}`)])).map((job) => job.id), [`job-${i}`])
    }
  })

  t.test('a custom schema holds every object; public gets none', async (t) => {
    const schema = `${RUN}_custom`
    const store = postgresStore({ connectionString: DATABASE_URL, schema, tablePrefix: 'sched_' })
    t.teardown(async () => {
      await store.close()
      await dropSchema(schema)
    })
    await store.connect()
    t.equal((await objectsOf(schema, 'sched_')).length, 24)
    t.same(await objectsOf('public', 'sched_'), [])
    await store.reconcile('a', [declared('job')])
    const { rows } = await admin.query(`SELECT id, hash_history FROM ${pg.escapeIdentifier(schema)}.sched_jobs`)
    t.same(rows, [{ id: 'job', hash_history: ['hash-job'] }])
  })

  t.test("close() ends a pool the store created, never the user's", async (t) => {
    const { open } = namespace(t)
    const owned = await open()
    await owned.close()
    await owned.close()
    await t.rejects(owned.now(), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(now\)/ }, 'its own pool is ended')
    await t.rejects(owned.subscribe(() => {}), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(subscribe\): the store is closed/ }, 'and it listens no more')

    const pool = new pg.Pool({ connectionString: DATABASE_URL })
    t.teardown(async () => { await pool.end() })
    const store = postgresStore({ pool, schema: RUN, tablePrefix: fresh() })
    await store.connect()
    await store.subscribe(() => {})
    t.equal(pool.totalCount - pool.idleCount, 1, 'the listener holds a client of the user\'s pool')
    await store.close()
    t.equal(pool.ended, false, 'the user\'s pool is not ended')
    t.equal(pool.totalCount, pool.idleCount, 'close() gave the listener\'s client back')
    t.same((await pool.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'and it still works')

    const { pool: gated, gate } = gatedPool(t)
    const closing = postgresStore({ pool: gated, schema: RUN, tablePrefix: fresh() })
    const opening = gate()
    const subscribed = closing.subscribe(() => {})
    await opening.asked()
    await closing.close()
    opening.pass()
    const unsubscribe = await subscribed
    t.equal(gated.totalCount, 0, 'a listener still connecting when the store closed lets its client go')
    await unsubscribe()
  })

  t.test('an idle connection of the store\'s own pool breaks: no crash, the next call reconnects', async (t) => {
    const { prefix, open } = namespace(t)
    // The store's pool is its own: a subclass, while the store is created, lets the test see it.
    const Pool = pg.Pool
    const pools: pg.Pool[] = []
    pg.Pool = class extends Pool {
      constructor (config?: pg.PoolConfig) {
        super(config)
        pools.push(this)
      }
    }
    let store: Store
    try {
      store = await open()
    } finally {
      pg.Pool = Pool
    }
    await store.now()
    const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE starts_with(query, $1)', [`SELECT to_jsonb("${RUN}"."${prefix}now"())`])
    t.equal(rows.length, 1, 'one idle connection')
    const broke = new Promise((resolve) => pools[0].once('error', resolve))
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid])
    t.match(await broke, { code: '57P01' }, 'the pool reported it (to the store\'s handler too)')
    t.type(await store.now(), 'number', 'and the store goes on')
  })

  t.test('the clock is the server\'s clock_timestamp() in epoch ms, and decides what is due', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    const { rows: [server] } = await admin.query<{ ms: string }>('SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms')
    const now = await store.now()
    t.ok(Number.isInteger(now))
    t.ok(now >= Number(server.ms) && now - Number(server.ms) < 1000, 'close to the server\'s clock, and not before')
    const [job] = await store.reconcile('a', [declared('job')])
    const outcomes = await store.claim('a', [fire('job', now - 1), fire('job', job.anchorAt + 10_000)], 0)
    t.same(outcomes[0].status, 'run')
    t.match(outcomes[1], { status: 'early', now: Number })
  })

  t.test('values round-trip exactly: JSON as given, numbers as numbers', async (t) => {
    const { open } = namespace(t)
    const store = await open()
    const trigger = { cron: '0 * * * *', note: 'ünïcode / "quoted" \\ \n \'single\'', big: 2 ** 53 - 1, fraction: 0.1 + 0.2, tiny: 5e-324, nested: [null, false, {}] }
    const [job] = await store.reconcile('ïnstance "1"', [declared('jöb:1\'', { definition: definitionOf('jöb:1\'', trigger) })])
    t.same(job.definition, definitionOf('jöb:1\'', trigger))
    const scheduledAt = (await store.now()) - 1
    const [won] = await store.claim('ïnstance "1"', [fire('jöb:1\'', scheduledAt, { runId: 'rün "1" /', missed: 3 })], LATER)
    const error = { name: 'TypeError', message: 'bööm / "quoted" \\ \' \u0001' }
    const end = ended(fenceOf(won), 'jöb:1\'', { status: 'error', error, durationMs: 1234.5678901234567, startedAt: 1_700_000_000_123, finishedAt: 1_700_000_001_357 })
    t.same(await store.finish('ïnstance "1"', [end]), [true])
    const [stored] = await store.readJobs(['jöb:1\''])
    t.strictSame(stored.lastRun, {
      runId: 'rün "1" /', scheduledAt, startedAt: end.startedAt, finishedAt: end.finishedAt, durationMs: end.durationMs, status: 'error', error, instanceId: 'ïnstance "1"'
    })
    t.match(stored, { watermark: scheduledAt, version: 1, running: 0, stats: { runs: 1, failures: 1, missed: 3 } })
    // Claims go as array literals: ids with what those literals treat specially.
    const ids = ['{a, "b"}', 'back\\slash\\', 'NULL', ' spaced ', '']
    await store.reconcile('a', ids.map((id) => declared(id)))
    const claims = ids.map((id) => fire(id, scheduledAt, { runId: `run of ${id} \\"` }))
    const outcomes = await store.claim('a', claims, LATER)
    t.same(outcomes.map((outcome) => outcome.status), ids.map(() => 'run'), 'each claim reached its job')
    t.same(await store.finish('a', outcomes.map((outcome, i) => ended(fenceOf(outcome), ids[i]))), ids.map(() => true))
    t.same((await store.readJobs(ids)).map((job) => [job.id, job.lastRun?.runId]), ids.map((id, i) => [id, claims[i].runId]), 'with its run id as given')
  })

  t.test('like the memory store where the shared suite does not look', async (t) => {
    const { open } = namespace(t)
    const postgres = await open()
    const memory = memoryStore()
    const both = async <T>(call: (store: Store) => Promise<T>): Promise<[T, T]> => [await call(postgres), await call(memory)]

    const [reconciled, expected] = await both(async (store) => await store.reconcile('a', [declared('dup'), declared('dup', { hash: 'other' }), declared('x')]))
    t.same(reconciled.map(timeless), expected.map(timeless), 'one id declared twice in one reconcile: inserted, then redefined')
    const [read, readExpected] = await both(async (store) => await store.readJobs(['x', 'dup', 'x']))
    t.same(read.map(timeless), readExpected.map(timeless), 'readJobs: in the order asked, repeats included')
    const [none, noneExpected] = await both(async (store) => await store.claim('a', [], LATER))
    t.same([none, noneExpected], [[], []], 'an empty claim')

    // Fixed claims at fixed (long past, so due) times: the same calls to both stores.
    const xFires = [fire('x', 1000, { maxInstances: 5 }), fire('x', 2000, { maxInstances: 5 })]
    const [outcomes, outcomesExpected] = await both(async (store) => await store.claim('a', xFires, LATER))
    t.same(outcomes.map((o) => o.status), outcomesExpected.map((o) => o.status))
    const fencesIn = (store: Store): number[] => (store === postgres ? outcomes : outcomesExpected).map(fenceOf)
    const [beat, beatExpected] = await both(async (store) => {
      const fences = fencesIn(store)
      return (await store.heartbeat('a', [fences[1], 999_999_999, fences[0], fences[1], 999_999_999], LATER)).lost
    })
    t.same([beat, beatExpected], [[999_999_999, 999_999_999], [999_999_999, 999_999_999]], 'lost fences in the order given, repeats included')
    const [finished, finishedExpected] = await both(async (store) => {
      const [fence] = fencesIn(store)
      return await store.finish('a', [ended(fence, 'x'), ended(fence, 'x', { status: 'error' })])
    })
    t.same([finished, finishedExpected], [[true, false], [true, false]], 'the same end twice in one call: the second is refused')
    const [x, xExpected] = await both(async (store) => await store.readJobs(['x']))
    t.same(x.map(timeless), xExpected.map(timeless), 'the job after all that')
    const dupFires = [fire('dup', 3000, { maxInstances: 5 }), fire('dup', 1, { kind: 'manual', maxInstances: 5 }), fire('dup', 4000, { maxInstances: 5 })]
    const [lost, lostExpected] = await both(async (store) => {
      await store.claim('b', dupFires, 0)
      return (await store.sweep()).map(({ fence, ...rest }) => rest)
    })
    t.same(lost, lostExpected, 'sweep: lost runs in fence order')
    const [dup, dupExpected] = await both(async (store) => await store.readJobs(['dup']))
    t.same(dup.map(timeless), dupExpected.map(timeless), 'lastRun: the last one swept')
  })

  t.test('like the memory store at random: claims of every kind, ends, renewals, sweeps and changes (seeded)', async (t) => {
    for (const seed of [1, 2, 3, 4]) {
      await t.test(`seed ${seed}`, async (t) => {
        const { open } = namespace(t)
        const postgres = await open()
        const memory = memoryStore()
        const random = seeded(seed)
        const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]
        const between = (low: number, high: number): number => low + Math.floor(random() * (high - low + 1))
        const both = async <T>(call: (store: Store) => Promise<T>): Promise<[T, T]> => [await call(postgres), await call(memory)]
        const ids = ['j0', 'j1', 'j2', 'j3', 'j4', 'j5']
        const instances = ['a', 'b'] as const
        const declare = (id: string): DeclaredJob => declared(id, { hash: pick(['h1', 'h2', 'h3']), paused: random() < 0.2 })
        const initial = ids.map(declare).map((job, i) => ({ ...job, paused: i === 5 }))
        const [stored, storedExpected] = await both(async (store) => await store.reconcile('a', initial))
        t.same(stored.map(timeless), storedExpected.map(timeless), 'reconciled')
        // Long due (the same calls to both stores), or not due for a minute (early in both).
        const base = (await postgres.now()) - 500_000
        const times = Array.from({ length: 12 }, (_, i) => base + i * 1000)
        const won: Array<{ fence: number, jobId: string, instance: string }> = []
        for (let step = 0; step < 80; step++) {
          const action = random()
          const instance = pick(instances)
          if (action < 0.45) {
            // Several claims of one job in a call are decided in order (the per-job loop), alone by the statement.
            // Mostly from the job's current version; now and then from another one (stale).
            const versions = new Map((await memory.readJobs(ids)).map((job) => [job.id, job.version]))
            const claims = Array.from({ length: between(1, 10) }, (_, i): Claim => {
              const kind = pick(['fire', 'fire', 'fire', 'missed', 'manual', 'rerun', 'rerun'] as const)
              const scheduledAt = random() < 0.1 ? base + 500_000 + LATER : pick(times)
              const jobId = pick([...ids, 'ghost'])
              const version = random() < 0.85 ? versions.get(jobId) ?? 1 : between(1, 5)
              return { jobId, kind, scheduledAt, missed: between(0, 2), maxInstances: between(1, 3), runId: `r${step}.${i}`, version }
            })
            const lease = pick([0, LATER])
            const [outcomes, expected] = await both(async (store) => await store.claim(instance, claims, lease))
            t.same(outcomes.map(comparable), expected.map(comparable), `step ${step}: claim ${claims.map((c) => `${c.kind} ${c.jobId}@${c.scheduledAt - base} max ${c.maxInstances}`).join(', ')}, lease ${lease}`)
            outcomes.forEach((outcome, i) => { if (outcome.status === 'run') won.push({ fence: outcome.fence, jobId: claims[i].jobId, instance }) })
          } else if (action < 0.6) {
            const ends = Array.from({ length: between(0, 6) }, () => {
              const run = won.length > 0 && random() < 0.9 ? pick(won) : { fence: 999_999, jobId: 'j0' }
              return ended(run.fence, run.jobId, { status: pick(['success', 'error', 'timeout', 'aborted'] as const), durationMs: between(0, 100) })
            })
            const [accepted, expected] = await both(async (store) => await store.finish(instance, ends))
            t.same(accepted, expected, `step ${step}: finish ${ends.map((end) => end.fence).join(', ')} by ${instance}`)
          } else if (action < 0.7) {
            const fences = Array.from({ length: between(0, 6) }, () => won.length > 0 && random() < 0.9 ? pick(won).fence : 999_999)
            const lease = pick([0, LATER])
            const [beat, expected] = await both(async (store) => (await store.heartbeat(instance, fences, lease)).lost)
            t.same(beat, expected, `step ${step}: heartbeat ${fences.join(', ')} by ${instance}, lease ${lease}`)
          } else if (action < 0.8) {
            const [lost, expected] = await both(async (store) => await store.sweep())
            t.same(lost, expected, `step ${step}: sweep`)
          } else if (action < 0.9) {
            const id = pick([...ids, 'ghost'])
            const change = pick([{ paused: true }, { paused: false }, { definition: definitionOf(id, { interval: step }), hash: `h${step}` }] as const)
            const [changed, expected] = await both(async (store) => await store.changeJob(id, change))
            t.same(changed === null ? null : timeless(changed), expected === null ? null : timeless(expected), `step ${step}: change ${id}`)
          } else {
            // Few ids, so that one is often declared twice or three times in a call.
            const jobs = Array.from({ length: between(1, 4) }, () => declare(pick(['j1', 'j2', 'new'])))
            const [reconciled, expected] = await both(async (store) => await store.reconcile(instance, jobs))
            t.same(reconciled.map(timeless), expected.map(timeless), `step ${step}: reconcile ${jobs.map((job) => `${job.id} ${job.hash}`).join(', ')}`)
          }
          const [jobs, expected] = await both(async (store) => await store.readJobs([...ids, 'new']))
          t.same(jobs.map(timeless), expected.map(timeless), `step ${step}: the jobs`)
        }
      })
    }
  })

  t.test('at volume: 5,000 jobs reconciled, read, claimed, renewed, finished and swept', async (t) => {
    const { open } = namespace(t)
    const [store, other] = await Promise.all([open(), open()])
    const count = 5000
    const ids = Array.from({ length: count }, (_, i) => `vol-${String(i).padStart(4, '0')}`)
    // Declared in an order unlike the ids' (7919 is prime to 5,000: each id once); one in ten paused.
    const jobs = ids.map((_, i) => declared(ids[(i * 7919) % count], { paused: i % 10 === 0 }))
    const reconciled = await store.reconcile('a', jobs)
    t.same(reconciled.map((job) => [job.id, job.hash, job.version, job.paused, job.watermark, job.running, job.definition]),
      jobs.map((job) => [job.id, job.hash, 1, job.paused, null, 0, job.definition]), 'each job inserted as declared, in the order declared')
    t.same(await other.reconcile('b', jobs.map((job) => ({ ...job, paused: !job.paused }))), reconciled, 'declared again by another instance: unchanged, paused never reset')
    const redefined = await other.reconcile('b', jobs.slice(0, 100).map((job) => ({ ...job, hash: 'v2' })))
    t.same(redefined.map((job) => [job.id, job.hash, job.version]), jobs.slice(0, 100).map((job) => [job.id, 'v2', 2]), 'a new hash redefines')
    const backwards = [...ids].reverse()
    t.same((await other.readJobs([...backwards, 'nobody'])).map((job) => job.id), backwards, 'read in the order asked, unknown ids left out')

    const at = (await store.now()) - 1000
    const versions = new Map(redefined.map((job) => [job.id, job.version]))
    const claims = jobs.map((job) => fire(job.id, at, { missed: 1, version: versions.get(job.id) ?? 1 }))
    const outcomes = await store.claim('a', claims, LATER)
    t.same(outcomes.map((outcome) => outcome.status), jobs.map((job) => job.paused ? 'paused' : 'run'), 'every due fire won, except those of paused jobs')
    const runs = outcomes.flatMap((outcome, i) => outcome.status === 'run' ? [{ fence: outcome.fence, jobId: claims[i].jobId, runId: claims[i].runId }] : [])
    t.same(runs.map((run) => run.fence), runs.map((run) => run.fence).sort(numeric), 'fences drawn in the claims\' order')
    t.equal(new Set(runs.map((run) => run.fence)).size, runs.length, 'each its own')
    t.same((await other.claim('b', claims.map((claim) => ({ ...claim, runId: randomUUID() })), LATER)).map((outcome) => outcome.status),
      jobs.map((job) => job.paused ? 'paused' : 'taken'), 'the same fires claimed by another instance: taken')
    const claimed = await other.readJobs(ids)
    t.same(claimed.filter((job) => !job.paused).map((job) => [job.watermark, job.stats.runs, job.stats.missed, job.running]),
      runs.map(() => [at, 1, 1, 1]), 'watermarks at the fire, a run and its missed fire counted, one run live')

    const fences = runs.map((run) => run.fence)
    t.same((await store.heartbeat('a', [0, ...fences, 0], LATER)).lost, [0, 0], 'every run renewed by its owner; an unknown fence lost, twice')
    t.same((await other.heartbeat('b', fences.slice(0, 50), LATER)).lost, fences.slice(0, 50), 'another instance renews none of them')
    const ends = runs.map((run, i) => ended(run.fence, run.jobId, { status: i % 2 === 0 ? 'success' : 'error', durationMs: i, error: i % 2 === 0 ? null : { name: 'Error', message: `run ${i}` } }))
    t.same(await other.finish('b', ends.slice(0, 50)), ends.slice(0, 50).map(() => false), 'ends by another instance: refused')
    t.same(await store.finish('a', [...ends, ends[0]]), [...ends.map(() => true), false], 'every end accepted once')
    const finished = new Map((await other.readJobs(ids)).map((job) => [job.id, job]))
    t.same(runs.map((run) => {
      const job = finished.get(run.jobId) as StoredJob
      return [job.stats, job.running, job.lastRun]
    }), runs.map((run, i) => [
      { runs: 1, successes: i % 2 === 0 ? 1 : 0, failures: i % 2 === 0 ? 0 : 1, missed: 1, skipped: 0 },
      0,
      { runId: run.runId, scheduledAt: at, startedAt: ends[i].startedAt, finishedAt: ends[i].finishedAt, durationMs: i, status: ends[i].status, error: ends[i].error, instanceId: 'a' }
    ]), 'each job: its run counted as a success or a failure, kept as its last run, nothing live')

    // Second fires with leases of 0 ms: expired at once, for the sweepers.
    const expiring = (await store.claim('a', runs.map((run) => fire(run.jobId, at + 1, { version: versions.get(run.jobId) ?? 1 })), 0)).map(fenceOf)
    const swept = await Promise.all([store.sweep(), other.sweep()])
    t.same(swept.flat().map((run) => run.fence).sort(numeric), expiring, 'each expired run swept once')
    const lost = await store.readJobs(runs.map((run) => run.jobId))
    t.same(lost.map((job) => [job.stats.runs, job.stats.failures, job.lastRun?.status, job.lastRun?.scheduledAt, job.running]),
      runs.map((run, i) => [2, i % 2 === 0 ? 1 : 2, 'lost', at + 1, 0]), 'each a failure more, kept as its last run')
  })

  t.test('connect(): an up-to-date schema is left as it is, another one is created again', async (t) => {
    const { prefix, open } = namespace(t)
    const functions = async (): Promise<Array<{ proname: string, oid: number }>> => (await admin.query<{ proname: string, oid: number }>(`
      SELECT p.proname, p.oid::int AS oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND starts_with(p.proname, $2) ORDER BY 1`, [RUN, prefix])).rows
    await open()
    const created = await functions()
    await open()
    t.same(await functions(), created, 'another store connecting finds the marker and runs no DDL: the same functions')

    // As an earlier version left it: no marker, and a reconcile that returned jsonb (CREATE OR REPLACE can't change that).
    const reconcile = `${pg.escapeIdentifier(RUN)}.${pg.escapeIdentifier(`${prefix}reconcile`)}`
    await admin.query(`DROP FUNCTION ${reconcile}(text, jsonb)`)
    await admin.query(`CREATE FUNCTION ${reconcile}(p_instance text, p_jobs jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[]'::jsonb $$`)
    await admin.query(`COMMENT ON TABLE ${pg.escapeIdentifier(RUN)}.${pg.escapeIdentifier(`${prefix}jobs`)} IS 'fastify-scheduler 0'`)
    const upgraded = await open()
    t.same((await upgraded.reconcile('a', [declared('job')])).map((job) => job.id), ['job'], 'the functions are created again')
    const recreated = await functions()
    t.same(recreated.map((row) => row.proname), created.map((row) => row.proname), 'the same functions')
    t.not(recreated.find((row) => row.proname.endsWith('reconcile'))?.oid, created.find((row) => row.proname.endsWith('reconcile'))?.oid, 'made anew')
  })

  t.test('connect(): a jobs table that kept the stats of its runs in its rows (as before) gives them to the stats table', async (t) => {
    const { prefix, open } = namespace(t)
    const table = (suffix: string): string => `${pg.escapeIdentifier(RUN)}.${pg.escapeIdentifier(prefix + suffix)}`
    const store = await open()
    await store.reconcile('a', [declared('ran'), declared('idle')])
    // As an earlier version left it: the counts and the last run in the job's row, no stats table, no marker.
    const lastRun = { runId: 'r1', scheduledAt: 1000, startedAt: 1001, finishedAt: 1002, durationMs: 1, status: 'failure', error: { name: 'Error', message: 'no' }, instanceId: 'a' }
    await admin.query(`DROP TABLE ${table('stats')}`)
    await admin.query(`ALTER TABLE ${table('jobs')} ADD COLUMN success_count bigint NOT NULL DEFAULT 0, ADD COLUMN failure_count bigint NOT NULL DEFAULT 0, ADD COLUMN last_run jsonb`)
    await admin.query(`UPDATE ${table('jobs')} SET success_count = 4, failure_count = 2, last_run = $1 WHERE id = 'ran'`, [lastRun])
    await admin.query(`COMMENT ON TABLE ${table('jobs')} IS 'fastify-scheduler 0'`)
    const upgraded = await open()
    const jobs = await upgraded.readJobs(['ran', 'idle'])
    t.same(jobs.map((job) => [job.id, job.stats.successes, job.stats.failures, job.lastRun]), [['ran', 4, 2, lastRun], ['idle', 0, 0, null]], 'the counts and last runs kept')
    const { rows } = await admin.query<{ attname: string }>(
      'SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname = ANY ($2::text[])',
      [table('jobs'), ['success_count', 'failure_count', 'last_run']])
    t.same(rows, [], "and gone from the jobs' rows")
    const [outcome] = await upgraded.claim('a', [fire('ran', (await upgraded.now()) - 10)], LATER)
    t.same(await upgraded.finish('a', [ended(fenceOf(outcome), 'ran')]), [true])
    t.same((await upgraded.readJobs(['ran']))[0].stats, { runs: 1, successes: 5, failures: 2, missed: 0, skipped: 0 }, 'ends count on from there')
  })

  t.test('connect(): instances booting at once on a new database create the objects once, and none sees a function vanish', async (t) => {
    const { prefix, open } = namespace(t)
    // Each finds nothing at first and waits for the lock; only the first that gets it creates the
    // objects (dropping and re-creating functions others already call would fail those calls).
    const stores = await Promise.all(Array.from({ length: 8 }, async () => {
      const store = await open()
      await store.reconcile('boot', [declared('job')])
      return store
    }))
    t.equal(stores.length, 8, 'every instance connected and reconciled')
    const { rows } = await admin.query<{ xmin: string }>(`
      SELECT c.xmin::text AS xmin FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND starts_with(c.relname, $2)
      UNION
      SELECT p.xmin::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND starts_with(p.proname, $2)`, [RUN, prefix])
    t.equal(rows.length, 1, 'the tables and the functions were created by one transaction: the DDL ran once')
  })

  t.test('connect(): a role that may not create the objects gets STORE_UNAVAILABLE, and nothing is left half made', async (t) => {
    const role = `fst_limited_${process.pid}`
    const schema = `${RUN}_denied`
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN`)
    t.teardown(async () => { await admin.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`) })
    const url = new URL(DATABASE_URL)
    url.username = role
    url.password = ''
    const store = postgresStore({ connectionString: url.href, schema })
    t.teardown(async () => { await store.close() })
    await t.rejects(store.connect(), { code: ErrorCodes.STORE_UNAVAILABLE, message: /postgres store .* is unavailable \(connect\): permission denied/ })
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [schema])
    t.equal(rows[0].n, 0, 'rolled back: no schema')
    await t.rejects(store.connect(), { code: ErrorCodes.STORE_UNAVAILABLE }, 'and again, on a connection given back to the pool')
  })

  t.test('claim: a claim never waits for a job another transaction holds; it is answered busy, and taken when settled (backup claims)', async (t) => {
    const { prefix, open } = namespace(t)
    const [a, b] = [await open(), await open()]
    await a.reconcile('a', [declared('job'), declared('other'), declared('free')])
    // Leases of 0 ms: no run counts against maxInstances (1 here).
    const at = (await a.now()) - 1000
    t.equal((await a.claim('a', [fire('job', at)], 0))[0].status, 'run')
    // Another transaction holds two jobs' rows (a claim of another instance, say).
    const locker = await admin.connect()
    t.teardown(() => { locker.release() })
    await locker.query('BEGIN')
    await locker.query(`SELECT 1 FROM ${pg.escapeIdentifier(RUN)}.${pg.escapeIdentifier(`${prefix}jobs`)} WHERE id IN ('job', 'other') FOR UPDATE`)
    const taken = await within(b.claim('b', [fire('job', at), fire('job', at - 500, { kind: 'missed' })], 0), 10_000)
    t.strictSame(taken, [{ status: 'taken' }, { status: 'taken' }], 'fires at or before the watermark: taken, nothing to lock, decide or record')
    const answered = await within(b.claim('b', [fire('job', at + 500), fire('other', at), fire('other', at + 500), fire('other', at + 400, { kind: 'manual' }), fire('free', at), fire('job', at - 100)], 0), 10_000)
    t.strictSame(answered?.map((outcome) => outcome.status), ['busy', 'busy', 'busy', 'busy', 'run', 'taken'],
      'answered at once while the rows are held: the held jobs\' claims after the watermark busy, the free job\'s decided')
    const single = await within(b.claim('b', [fire('other', at, { kind: 'manual' }), fire('free', at + 500)], 0), 10_000)
    t.strictSame(single?.map((outcome) => outcome.status), ['busy', 'run'], 'the same with one claim per job')
    t.strictSame(await within(b.claim('b', [fire('other', at, { kind: 'manual' })], 0), 10_000), [{ status: 'busy' }], 'and when nothing could be locked')
    let tries = 0
    const decided = await decide(b, 'b', [fire('job', at + 500), fire('other', at), fire('other', at + 500)], 0, async () => {
      tries++
      await locker.query('COMMIT')
    })
    t.equal(tries, 1, 'busy once, while the rows were held')
    t.strictSame(decided.map((outcome) => outcome.status), ['run', 'run', 'run'], 'claimed again once the holder committed: decided as usual')
    const jobs = await a.readJobs(['job', 'other', 'free'])
    t.strictSame(jobs.map((job) => [job.id, job.watermark, job.stats.runs]), [['job', at + 500, 2], ['other', at + 500, 2], ['free', at + 500, 2]], 'only decided claims were recorded')
  })

  t.test('3 instances claiming, renewing, finishing, sweeping and reconciling the same jobs at once: no deadlock, each fire won once', async (t) => {
    const { open } = namespace(t)
    const stores = await Promise.all([open(), open(), open()])
    const ids = Array.from({ length: 30 }, (_, i) => `mix-${String(i).padStart(2, '0')}`)
    await stores[0].reconcile('i0', ids.map((id) => declared(id)))
    const base = (await stores[0].now()) - 1_000_000
    const results = await Promise.all(stores.map(async (store, s) => {
      const random = seeded(s + 1)
      const instance = `i${s}`
      const wins: string[] = []
      let live: Array<{ fence: number, jobId: string }> = []
      for (let round = 0; round < 24; round++) {
        // Fires of random jobs, some of one job several times, in no particular order.
        const batch = Array.from({ length: 25 }, () => fire(ids[Math.floor(random() * ids.length)], base + Math.floor(random() * 60) * 1000, { maxInstances: 3 }))
        const outcomes = await store.claim(instance, batch, random() < 0.5 ? 0 : LATER)
        outcomes.forEach((outcome, k) => {
          if (outcome.status !== 'run') return
          wins.push(`${batch[k].jobId}@${batch[k].scheduledAt}`)
          live.push({ fence: outcome.fence, jobId: batch[k].jobId })
        })
        if (round % 4 === 0) await store.heartbeat(instance, live.map((run) => run.fence), LATER)
        if (round % 4 === 1) {
          await store.finish(instance, live.map((run) => ended(run.fence, run.jobId)))
          live = []
        }
        if (round % 4 === 2) await store.sweep()
        if (round % 4 === 3) await store.reconcile(instance, ids.slice(s * 8, s * 8 + 14).reverse().map((id) => declared(id)))
      }
      return wins
    }))
    const wins = results.flat()
    t.ok(wins.length > 0, `${wins.length} fires won`)
    t.equal(new Set(wins).size, wins.length, 'none twice')
  })

  t.test(`the hash history keeps the last ${HASH_HISTORY} definitions, newest first`, async (t) => {
    const { open } = namespace(t)
    const store = await open()
    await store.reconcile('a', [declared('job', { hash: 'h0' })])
    for (let i = 1; i <= HASH_HISTORY + 2; i++) await store.changeJob('job', { definition: definitionOf('job', { interval: i }), hash: `h${i}` })
    const [job] = await store.reconcile('a', [declared('job', { hash: `h${HASH_HISTORY + 2 - HASH_HISTORY + 1}` })])
    t.equal(job.hash, `h${HASH_HISTORY + 2}`, 'a hash still in the history does not come back')
    const [back] = await store.reconcile('a', [declared('job', { hash: 'h1' })])
    t.equal(back.hash, 'h1', `one pushed out of the history (${HASH_HISTORY} kept) is new again`)
    t.equal(back.version, HASH_HISTORY + 4)
    const again = await store.changeJob('job', { definition: definitionOf('job'), hash: 'h5' })
    t.equal(again?.hash, 'h5', 'a redefinition at runtime applies even to a hash in the history, which moves to the front')
  })

  t.test('run rows live as long as their runs; reruns are remembered', async (t) => {
    const { prefix, open } = namespace(t)
    const store = await open()
    const count = async (table: string): Promise<number> => {
      const { rows: [row] } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${pg.escapeIdentifier(RUN)}.${pg.escapeIdentifier(prefix + table)}`)
      return Number(row.n)
    }
    await store.reconcile('a', [declared('job', { definition: { ...definitionOf('job'), options: { ...DEFAULT_JOB_OPTIONS, maxInstances: 3 } } })])
    const now = await store.now()
    const fences = (await store.claim('a', [fire('job', now - 3, { maxInstances: 3 }), fire('job', now - 2, { maxInstances: 3 })], 0)).map(fenceOf)
    t.equal(await count('runs'), 2, 'two live runs, two rows')
    t.same(await store.finish('a', [ended(fences[0], 'job')]), [true])
    t.same((await store.sweep()).map((run) => run.fence), [fences[1]])
    t.equal(await count('runs'), 0, 'ended and lost runs leave no row')
    t.same((await store.claim('a', [fire('job', now - 2, { kind: 'rerun', maxInstances: 3 })], LATER)).map((o) => o.status), ['run'])
    t.equal(await count('reruns'), 1, 'the rerun is remembered')
    t.same(await store.claim('a', [fire('job', now - 2, { kind: 'rerun', maxInstances: 3 })], LATER), [{ status: 'taken' }])
  })

  t.test('subscribe: a notification per change, through the user\'s pool or a client of the store\'s own', async (t) => {
    const { open } = namespace(t)
    const changer = await open()
    const pool = new pg.Pool({ connectionString: DATABASE_URL })
    t.teardown(async () => { await pool.end() })
    await changer.reconcile('a', [declared('job')])
    for (const listening of [await open(), await open({ connectionString: undefined, pool })]) {
      const heard = recorder()
      const unsubscribe = await listening.subscribe(heard.listener)
      const next = heard.next()
      await changer.changeJob('job', { paused: true })
      t.same(await next, ['job'], 'the changed job\'s id')
      t.equal(await changer.changeJob('nobody', { paused: true }), null, 'no job, no change')
      await unsubscribe()
      await unsubscribe()
      // Another listener hears the next change: had the first still been listening, its call would have come in too.
      const other = recorder()
      const unsubscribeOther = await changer.subscribe(other.listener)
      const otherNext = other.next()
      await changer.changeJob('job', { paused: false })
      await otherNext
      await unsubscribeOther()
      t.same(heard.calls, [['job']], 'nothing after unsubscribing')
    }
    t.equal(pool.totalCount, pool.idleCount, 'the user\'s pool has its client back')
  })

  t.test('subscribe: the listener\'s connection is killed; the store LISTENs again', async (t) => {
    const { prefix, open } = namespace(t)
    const changer = await open()
    const listening = await open()
    await changer.reconcile('a', [declared('job')])
    const heard = recorder()
    const unsubscribe = await listening.subscribe(heard.listener)
    const [pid] = await listenerPids(RUN, prefix)
    t.ok(pid > 0, `the listener's backend (${pid})`)
    await admin.query('SELECT pg_terminate_backend($1)', [pid])
    await heardAgain(t, changer, 'job', heard)
    const pids = await listenerPids(RUN, prefix)
    t.equal(pids.length, 1)
    t.not(pids[0], pid, 'on a new connection')
    await unsubscribe()
  })

  t.test('subscribe: retries with backoff while connections fail, through the user\'s pool', async (t) => {
    const { prefix, open } = namespace(t)
    const changer = await open()
    await changer.reconcile('a', [declared('job')])
    const { pool, gate, connects } = gatedPool(t)
    const listening = postgresStore({ pool, schema: RUN, tablePrefix: prefix })
    const heard = recorder()
    const unsubscribe = await listening.subscribe(heard.listener)
    const [pid] = await listenerPids(RUN, prefix)
    const failing = gate()
    await admin.query('SELECT pg_terminate_backend($1)', [pid])
    await failing.asked()
    failing.fail(new Error('server still down'))
    await heardAgain(t, changer, 'job', heard)
    t.equal(connects(), 3, 'the first connection, a failed attempt, then one that worked')
    await unsubscribe()
    t.equal(pool.totalCount, pool.idleCount, 'the broken clients were dropped, the last one given back')
  })

  t.test('subscribe: unsubscribed while a connection is being opened', async (t) => {
    const { prefix, open } = namespace(t)
    await open()
    const { pool, gate } = gatedPool(t)
    const listening = postgresStore({ pool, schema: RUN, tablePrefix: prefix })

    // The retry that fails after the unsubscribe schedules no other.
    const unsubscribe = await listening.subscribe(() => {})
    const failing = gate()
    await admin.query('SELECT pg_terminate_backend($1)', [(await listenerPids(RUN, prefix))[0]])
    await failing.asked()
    await unsubscribe()
    const later = gate()
    failing.fail(new Error('down'))
    t.equal(await within(later.asked(), 400), undefined, 'no further attempt (the next would have come after 200 ms)')
    later.pass()

    // The retry that succeeds after the unsubscribe gives its connection up at once.
    const unsubscribeAgain = await listening.subscribe(() => {})
    const passing = gate()
    await admin.query('SELECT pg_terminate_backend($1)', [(await listenerPids(RUN, prefix))[0]])
    await passing.asked()
    await unsubscribeAgain()
    const released = new Promise((resolve) => pool.once('remove', resolve))
    passing.pass()
    await released
    t.equal(pool.totalCount, 0, 'the late connection was dropped')
  })

  t.test('subscribe: LISTEN or UNLISTEN failing on a connection', async (t) => {
    const { prefix, open } = namespace(t)
    const changer = await open()
    await changer.reconcile('a', [declared('job')])
    const pool = new pg.Pool({ connectionString: DATABASE_URL })
    pool.on('error', () => {})
    t.teardown(async () => { await pool.end() })
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>
    let failing = 'LISTEN'
    let client: pg.PoolClient | undefined
    Object.assign(pool, {
      connect: async () => {
        client = await connect()
        const query = client.query.bind(client) as (text: string) => Promise<unknown>
        const failOn = failing
        Object.assign(client, { query: async (text: string) => text.startsWith(failOn) ? await Promise.reject(new Error(`${failOn} refused`)) : await query(text) })
        return client
      }
    })
    const store = postgresStore({ pool, schema: RUN, tablePrefix: prefix })
    await t.rejects(store.subscribe(() => {}), { code: ErrorCodes.STORE_UNAVAILABLE, message: /\(subscribe\): LISTEN refused/ })
    t.equal(pool.totalCount, 0, 'the client was dropped, not given back')

    failing = 'UNLISTEN'
    const heard = recorder()
    const unsubscribe = await store.subscribe(heard.listener)
    const listener = client as pg.PoolClient
    await unsubscribe()
    t.equal(pool.totalCount, 0, 'a client that could not UNLISTEN is dropped, not given back')
    listener.emit('error', new Error('a late error from the dropped client'))
    t.pass('is ignored')
  })

  t.test('3 instances claiming the same 1,000 fires concurrently: each fire won exactly once', async (t) => {
    const { open } = namespace(t)
    const stores = await Promise.all([open(), open(), open()])
    const ids = Array.from({ length: 10 }, (_, i) => `job-${i}`)
    await stores[0].reconcile('i0', ids.map((id) => declared(id)))
    const base = (await stores[0].now()) - 1_000_000
    // Every instance claims every fire, oldest first, in batches of its own size, ids interleaved.
    const fires = Array.from({ length: 100 }, (_, i) => ids.map((id) => ({ id, at: base + i * 1000 }))).flat()
    const sizes = [64, 100, 37]
    const results = await Promise.all(stores.map(async (store, s) => {
      const outcomes: Array<{ key: string, status: string }> = []
      for (let from = 0; from < fires.length; from += sizes[s]) {
        const batch = fires.slice(from, from + sizes[s])
        const got = await decide(store, `i${s}`, batch.map((f) => fire(f.id, f.at, { maxInstances: 1000 })), LATER)
        got.forEach((outcome, k) => outcomes.push({ key: `${batch[k].id}@${batch[k].at}`, status: outcome.status }))
      }
      return outcomes
    }))
    const all = results.flat()
    const wins = all.filter((outcome) => outcome.status === 'run').map((outcome) => outcome.key)
    t.equal(all.length, 3000, 'an outcome for every claim')
    t.equal(wins.length, 1000, '1,000 wins in all')
    t.equal(new Set(wins).size, 1000, 'each fire won once')
    t.same(new Set(all.filter((outcome) => outcome.status !== 'run').map((outcome) => outcome.status)), new Set(['taken']), 'the other claims: taken')
    const jobs = await stores[1].readJobs(ids)
    t.same(jobs.map((job) => [job.stats.runs, job.watermark, job.running]), ids.map(() => [100, base + 99_000, 100]))
  })
}

if (await requireService(t, 'PostgreSQL', async () => await pgReachable(DATABASE_URL), 'start it (see README) or set DATABASE_URL to run these tests')) {
  registerTests()
}
