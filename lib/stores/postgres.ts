/**
 * The PostgreSQL store: the Store contract (store.ts) with the same outcomes
 * as the in-memory reference (memory.ts), shared by every instance on one
 * database.
 *
 * Each method is one round trip: the multi-step ones (claim, finish, sweep,
 * reconcile, ...) are PL/pgSQL functions that connect() creates, so a wake
 * costs one statement however many fires are due; their statements are
 * set-based, so a call costs about the same per item for 10 items or 10,000
 * (see schemaDdl). Exactly-once comes from row locks: every function that
 * claims locks the job rows it touches in id order (then the instance row), so
 * claims of one job from the whole fleet serialize; a claim never even waits
 * (a job another call holds is answered 'busy', and claimed again shortly).
 * Runs' ends and sweeps never lock job rows: they lock run rows in fence
 * order, then the jobs' stats rows (a table of their own) in id order, so
 * nothing deadlocks and recording thousands of ends never holds up a claim. Times come from the server's
 * clock_timestamp() as epoch ms. Needs PostgreSQL 12 or newer.
 *
 * `pg` is an optional peer dependency: only this module imports it.
 */
import { createHash } from 'node:crypto'
import pg from 'pg'
import { invalidOption, storeUnavailable } from '../errors.js'
import { HASH_HISTORY } from './memory.js'
import type {
  Claim,
  ClaimOutcome,
  DeclaredJob,
  HeartbeatResult,
  InstanceInfo,
  JobChangeRequest,
  LostRun,
  RunEnd,
  Store,
  StoredJob
} from './store.js'

export interface PostgresStoreOptions {
  /** A pool you own: the store borrows connections from it and never ends it. Give this or `connectionString`. */
  pool?: pg.Pool
  /** e.g. "postgres://user:password@host:5432/db": the store creates its own pool and ends it in close(). */
  connectionString?: string
  /** Schema of the store's tables and functions (created if missing); default "public". */
  schema?: string
  /** Prefix of every table, function and channel name; default "fastify_scheduler_". */
  tablePrefix?: string
}

export const DEFAULT_SCHEMA = 'public'
export const DEFAULT_TABLE_PREFIX = 'fastify_scheduler_'

/** Longest name PostgreSQL keeps (NAMEDATALEN - 1); longer identifiers are truncated, longer channels refused. */
const MAX_NAME = 63
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Every object the store creates, by what it is; the values are name suffixes after the prefix. */
const OBJECT_SUFFIXES = {
  jobs: 'jobs',
  stats: 'stats',
  runs: 'runs',
  fences: 'fences',
  runsByJob: 'runs_by_job',
  runsByLease: 'runs_by_lease',
  reruns: 'reruns',
  instances: 'instances',
  arrivals: 'arrivals',
  now: 'now',
  pushHash: 'push_hash',
  touch: 'touch',
  reconcile: 'reconcile',
  changeJob: 'change_job',
  claim: 'claim',
  claimSteps: 'claim_steps',
  finish: 'finish',
  heartbeat: 'heartbeat',
  sweep: 'sweep'
} as const
const LONGEST_SUFFIX = Math.max(...Object.values(OBJECT_SUFFIXES).map((suffix) => suffix.length))
/** The notification channel is `<schema>.<prefix>changes`. */
const CHANNEL_SUFFIX = 'changes'

/** Subscription retries after a broken LISTEN connection: first delay, doubled up to the cap. */
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 10_000

export function postgresStore (options: PostgresStoreOptions): Store {
  return new PostgresStore(options)
}

type Names = { -readonly [K in keyof typeof OBJECT_SUFFIXES]: string } & {
  schema: string
  /** The channel as LISTEN takes it (a quoted identifier) ... */
  listenChannel: string
  /** ... and as pg_notify takes it (a quoted literal). */
  notifyChannel: string
}

/** Where the listener's connection comes from and how it goes back. */
interface ListenConnection {
  client: pg.ClientBase
  release: (broken: boolean) => Promise<void>
}

/** A connection doing LISTEN, with a way to take our event handlers off it. */
interface Listening {
  connection: ListenConnection
  detach: () => void
}

class PostgresStore implements Store {
  readonly kind = 'postgres'
  readonly address: string
  readonly #pool: pg.Pool
  /** Set when the store created the pool (and ends it in close()); null for a pool the user owns. */
  readonly #connectionString: string | null
  readonly #names: Names
  /** What connect() creates, ending with the marker it leaves on the jobs table. */
  readonly #ddl: string
  /** The jobs table's comment once #ddl ran: when connect() finds it, everything is in place already. */
  readonly #marker: string
  /** The schema and the jobs table's name, for MARKER_SQL. */
  readonly #markerAt: [string, string]
  /** The advisory lock #ddl runs under. */
  readonly #lockKey: string
  readonly #subscriptions = new Set<Subscription>()
  #closed = false

  constructor (options: PostgresStoreOptions) {
    const { source, schema, prefix } = validate(options)
    this.#names = namesOf(schema, prefix)
    const ddl = schemaDdl(this.#names, schema)
    this.#marker = schemaMarker(ddl)
    this.#lockKey = advisoryKey(`${schema}.${prefix}`)
    this.#markerAt = [schema, prefix + OBJECT_SUFFIXES.jobs]
    this.#ddl = `${ddl}\nCOMMENT ON TABLE ${this.#names.jobs} IS ${pg.escapeLiteral(this.#marker)};\n`
    if ('pool' in source) {
      this.#pool = source.pool
      this.#connectionString = null
      this.address = addressOf(source.pool.options)
    } else {
      const { connectionString } = source
      this.#pool = new pg.Pool({ connectionString })
      // An idle client whose connection drops emits 'error' on the pool; without a listener that would crash the process.
      this.#pool.on('error', ignore)
      this.#connectionString = connectionString
      this.address = addressOf({ connectionString })
    }
  }

  async connect (): Promise<void> {
    // Instances of a fleet connect to objects that exist already, as this very code created them:
    // one quick read, no DDL (re-creating the functions would make every session re-plan them).
    const found = await this.#query('connect', MARKER_SQL, this.#markerAt)
    if (found[0]?.result === this.#marker) return
    // Missing or out of date: created under the advisory lock, after a second look, since instances
    // booting together all find them missing, and re-creating the functions while another instance
    // already calls them makes its calls fail ("cache lookup failed for function").
    let client: pg.PoolClient | null = null
    try {
      client = await this.#pool.connect()
      await client.query('BEGIN')
      await client.query(`SELECT pg_advisory_xact_lock(${this.#lockKey})`)
      const { rows } = await client.query(MARKER_SQL, this.#markerAt)
      if (rows[0]?.result !== this.#marker) await client.query(this.#ddl)
      await client.query('COMMIT')
    } catch (err) {
      await client?.query('ROLLBACK').catch(ignore)
      throw storeUnavailable(this.kind, this.address, 'connect', err)
    } finally {
      client?.release()
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()))
    if (this.#connectionString !== null) await this.#pool.end()
  }

  async now (): Promise<number> {
    return await this.#call('now', `SELECT to_jsonb(${this.#names.now}()) AS result`, [])
  }

  async reconcile (instanceId: string, jobs: readonly DeclaredJob[]): Promise<StoredJob[]> {
    return await this.#call('reconcile', `SELECT ${this.#names.reconcile}($1, $2::jsonb) AS result`, [instanceId, JSON.stringify(jobs)])
  }

  async readJobs (ids: readonly string[]): Promise<StoredJob[]> {
    const { jobs, stats, now } = this.#names
    // The live runs of the jobs asked for first, looked up per job (see schemaDdl: no join of two computed sets).
    return await this.#call('readJobs', `
      SELECT coalesce(json_agg(${jobViewSql('j', runningSql('live.counts', 'j.id'))} ORDER BY wanted.ord), '[]') AS result
      FROM (${liveMapSql(this.#names, 'live.job_id IN (SELECT unnest($1::text[]))', `(SELECT ${now}())`)}) AS live (counts)
      CROSS JOIN unnest($1::text[]) WITH ORDINALITY AS wanted (id, ord)
      JOIN ${jobs} AS j ON j.id = wanted.id
      LEFT JOIN ${stats} AS s ON s.job_id = j.id`, [ids])
  }

  async versions (ids: readonly string[]): Promise<Record<string, number>> {
    return await this.#call('versions', `
      SELECT coalesce(json_object_agg(j.id, j.version), '{}') AS result
      FROM ${this.#names.jobs} AS j WHERE j.id = ANY ($1::text[])`, [ids])
  }

  async changeJob (id: string, change: JobChangeRequest): Promise<StoredJob | null> {
    return await this.#call('changeJob', `SELECT ${this.#names.changeJob}($1, $2::jsonb) AS result`, [id, JSON.stringify(change)])
  }

  async claim (instanceId: string, claims: readonly Claim[], leaseMs: number): Promise<ClaimOutcome[]> {
    return await this.#call('claim', `SELECT ${this.#names.claim}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS result`, [instanceId, ...claimArrays(claims), leaseMs])
  }

  async finish (instanceId: string, ends: readonly RunEnd[]): Promise<boolean[]> {
    return await this.#call('finish', `SELECT ${this.#names.finish}($1, $2::jsonb) AS result`, [instanceId, JSON.stringify(ends)])
  }

  async heartbeat (instanceId: string, fences: readonly number[], leaseMs: number): Promise<HeartbeatResult> {
    return await this.#call('heartbeat', `SELECT ${this.#names.heartbeat}($1, $2::bigint[], $3) AS result`, [instanceId, integerArray(fences), leaseMs])
  }

  async sweep (): Promise<LostRun[]> {
    return await this.#call('sweep', `SELECT ${this.#names.sweep}() AS result`, [])
  }

  async instances (withinMs: number): Promise<InstanceInfo[]> {
    const { instances, now } = this.#names
    return await this.#call('instances', `
      SELECT coalesce(jsonb_agg(jsonb_build_object('id', i.id, 'heartbeatAt', i.heartbeat_at, 'startedAt', i.started_at) ORDER BY i.arrival), '[]') AS result
      FROM (SELECT ${now}() AS now) AS clock
      JOIN ${instances} AS i ON i.heartbeat_at >= clock.now - $1::bigint`, [withinMs])
  }

  async leave (instanceId: string): Promise<void> {
    await this.#query('leave', `DELETE FROM ${this.#names.instances} WHERE id = $1`, [instanceId])
  }

  async subscribe (listener: (jobIds: string[]) => void): Promise<() => Promise<void>> {
    // A closed store opens nothing more (with a connection string, a listener is a client of its own, outside the ended pool).
    if (this.#closed) throw storeUnavailable(this.kind, this.address, 'subscribe', new Error('the store is closed'))
    const subscription = new Subscription(() => this.#openListenConnection(), this.#names.listenChannel, listener, () => {
      this.#subscriptions.delete(subscription)
    })
    // Known before it listens, so that a close() meanwhile ends it too.
    this.#subscriptions.add(subscription)
    try {
      await subscription.start()
    } catch (err) {
      this.#subscriptions.delete(subscription)
      throw storeUnavailable(this.kind, this.address, 'subscribe', err)
    }
    return async () => { await subscription.close() }
  }

  /** A connection of its own for LISTEN: a client from the user's pool, or a new client (never one of our pool's: it would be held for good). */
  async #openListenConnection (): Promise<ListenConnection> {
    if (this.#connectionString === null) {
      const client = await this.#pool.connect()
      return { client, release: async (broken) => { client.release(broken) } }
    }
    const client = new pg.Client({ connectionString: this.#connectionString })
    await client.connect()
    return { client, release: async () => { await client.end() } }
  }

  /** One statement whose single row has a `result` column (jsonb, parsed by pg). */
  async #call<T> (action: string, text: string, values: unknown[]): Promise<T> {
    const rows = await this.#query(action, text, values)
    return rows[0].result as T
  }

  async #query (action: string, text: string, values?: unknown[]): Promise<Array<{ result: unknown }>> {
    try {
      const result = await this.#pool.query(text, values)
      return result.rows
    } catch (err) {
      throw storeUnavailable(this.kind, this.address, action, err)
    }
  }
}

/**
 * One LISTEN on its own connection. A broken connection (the server
 * restarted, an admin killed the backend, a pooler dropped it) is dropped and
 * re-opened with backoff until unsubscribed; nothing is logged and nothing
 * throws: notifications are hints and the scheduler polls anyway.
 */
class Subscription {
  readonly #open: () => Promise<ListenConnection>
  readonly #channel: string
  readonly #listener: (jobIds: string[]) => void
  readonly #onClose: () => void
  #listening: Listening | null = null
  #retryTimer: NodeJS.Timeout | undefined
  #retryDelay = RETRY_MIN_MS
  #closed = false

  constructor (open: () => Promise<ListenConnection>, channel: string, listener: (jobIds: string[]) => void, onClose: () => void) {
    this.#open = open
    this.#channel = channel
    this.#listener = listener
    this.#onClose = onClose
  }

  /** The first LISTEN: its failure is the caller's (subscribe rejects). */
  async start (): Promise<void> {
    await this.#listen()
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#onClose()
    clearTimeout(this.#retryTimer)
    const listening = this.#listening
    this.#listening = null
    if (listening === null) return
    try {
      await listening.connection.client.query(`UNLISTEN ${this.#channel}`)
    } catch {
      await listening.connection.release(true)
      return
    }
    // Detached only now: a pool's client goes back healthy, without our listeners.
    listening.detach()
    await listening.connection.release(false)
  }

  async #listen (): Promise<void> {
    const connection = await this.#open()
    const { client } = connection
    // The payload is the changed job's id (change_job's pg_notify always sends one).
    const onNotification = (message: pg.Notification): void => { this.#listener([message.payload as string]) }
    const onError = (): void => { this.#broken(listening) }
    const listening: Listening = {
      connection,
      detach: () => {
        client.off('notification', onNotification)
        client.off('error', onError)
      }
    }
    client.on('notification', onNotification)
    client.on('error', onError)
    try {
      await client.query(`LISTEN ${this.#channel}`)
    } catch (err) {
      await connection.release(true)
      throw err
    }
    if (this.#closed) {
      // Unsubscribed while this connection was being opened.
      await connection.release(true)
      return
    }
    this.#listening = listening
    this.#retryDelay = RETRY_MIN_MS
  }

  #broken (listening: Listening): void {
    // Only the live connection counts: a late error from one already dropped changes nothing.
    if (this.#listening !== listening) return
    this.#listening = null
    listening.connection.release(true).catch(ignore)
    this.#retryLater()
  }

  #retryLater (): void {
    if (this.#closed) return
    const delay = this.#retryDelay
    this.#retryDelay = Math.min(delay * 2, RETRY_MAX_MS)
    this.#retryTimer = setTimeout(() => {
      this.#listen().catch(() => { this.#retryLater() })
    }, delay)
    // A pending retry never keeps the process alive.
    this.#retryTimer.unref()
  }
}

function ignore (): void {}

interface ValidOptions {
  source: { pool: pg.Pool } | { connectionString: string }
  schema: string
  prefix: string
}

function validate (options: PostgresStoreOptions): ValidOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidOption('options', options, 'expected an object with pool or connectionString')
  }
  const { pool, connectionString, schema = DEFAULT_SCHEMA, tablePrefix: prefix = DEFAULT_TABLE_PREFIX } = options
  if (pool !== undefined && connectionString !== undefined) {
    // Shown without the connection string: it may hold a password.
    throw invalidOption('connectionString', '(a connection string)', 'give either pool or connectionString, not both')
  }
  let source: ValidOptions['source']
  if (connectionString !== undefined) {
    if (typeof connectionString !== 'string' || connectionString === '') {
      throw invalidOption('connectionString', shown(connectionString), 'expected a PostgreSQL URL such as "postgres://user@host:5432/database"')
    }
    source = { connectionString }
  } else if (isPool(pool)) {
    source = { pool }
  } else {
    throw invalidOption('pool', shown(pool), 'expected a pg.Pool (or give connectionString instead)')
  }
  if (typeof schema !== 'string' || schema.length > MAX_NAME || !IDENTIFIER.test(schema)) {
    throw invalidOption('schema', schema, `expected an SQL identifier: a letter or _, then letters, digits or _, at most ${MAX_NAME} characters`)
  }
  // Every object name (prefix + suffix) and the channel (schema.prefix + "changes") must fit in MAX_NAME.
  const maxPrefix = Math.min(MAX_NAME - LONGEST_SUFFIX, MAX_NAME - schema.length - 1 - CHANNEL_SUFFIX.length)
  if (typeof prefix !== 'string' || prefix.length > maxPrefix || !IDENTIFIER.test(prefix)) {
    throw invalidOption('tablePrefix', prefix, `expected an SQL identifier: a letter or _, then letters, digits or _, at most ${maxPrefix} characters with schema "${schema}"`)
  }
  return { source, schema, prefix }
}

function isPool (value: unknown): value is pg.Pool {
  if (value === null || typeof value !== 'object') return false
  const record = value as Record<string, unknown>
  return typeof record.connect === 'function' && typeof record.query === 'function'
}

/** An option's value for a message: objects by their type only (a pool's options hold a password). */
function shown (value: unknown): unknown {
  return value !== null && typeof value === 'object' ? Object.prototype.toString.call(value) : value
}

/** "postgres://host:port/database" as pg resolves it (URL, PG* variables, defaults), without user or password. */
function addressOf (config: pg.ClientConfig): string {
  // A Client only parses its configuration when constructed; it connects in connect(), never called here.
  const parsed = new pg.Client(config)
  const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host
  return `postgres://${host}:${parsed.port}/${parsed.database ?? ''}`
}

function namesOf (schema: string, prefix: string): Names {
  const quotedSchema = pg.escapeIdentifier(schema)
  const names: Record<string, string> = { schema: quotedSchema }
  for (const [key, suffix] of Object.entries(OBJECT_SUFFIXES)) {
    names[key] = `${quotedSchema}.${pg.escapeIdentifier(prefix + suffix)}`
  }
  // Index names take no schema: an index lives in its table's.
  names.runsByJob = pg.escapeIdentifier(prefix + OBJECT_SUFFIXES.runsByJob)
  names.runsByLease = pg.escapeIdentifier(prefix + OBJECT_SUFFIXES.runsByLease)
  const channel = `${schema}.${prefix}${CHANNEL_SUFFIX}`
  names.listenChannel = pg.escapeIdentifier(channel)
  names.notifyChannel = pg.escapeLiteral(channel)
  return names as Names
}

/**
 * The jobs table's comment (connect()'s marker), or no row. A plain read of
 * the catalogs, which sees what other sessions committed since the statement
 * began: name lookups such as to_regclass() go through this session's catalog
 * cache, which doesn't learn of a table another session created while this
 * one waited for the advisory lock.
 */
const MARKER_SQL = `SELECT d.description AS result
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_description AS d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
  WHERE n.nspname = $1 AND c.relname = $2`

/** A signed 64-bit advisory lock key from a name (the SQL text inlines it). */
function advisoryKey (name: string): string {
  const digest = createHash('sha256').update(`fastify-scheduler:${name}`).digest()
  return digest.readBigInt64BE(0).toString()
}

/** The fingerprint of a store's DDL, kept as the jobs table's comment: connect() runs the DDL only when it differs. */
function schemaMarker (ddl: string): string {
  return `fastify-scheduler ${createHash('sha256').update(ddl).digest('hex').slice(0, 32)}`
}

/**
 * The job row `j` as the Store's StoredJob, an SQL expression inlined in each
 * statement (a function called per row costs more than the row); `s` is its
 * stats row (left-joined: a job none of whose runs has ended has none) and
 * `running` the expression of its live runs. Built as json (text): jsonb
 * would be built in binary, then printed.
 */
function jobViewSql (j: string, running: string, s = 's'): string {
  return `json_build_object(
      'id', ${j}.id, 'hash', ${j}.hash, 'definition', ${j}.definition, 'paused', ${j}.paused,
      'anchorAt', ${j}.anchor_at, 'version', ${j}.version, 'watermark', ${j}.watermark,
      'stats', json_build_object('runs', ${j}.run_count, 'successes', coalesce(${s}.success_count, 0), 'failures', coalesce(${s}.failure_count, 0),
        'missed', ${j}.missed_count, 'skipped', ${j}.skipped_count),
      'lastRun', ${s}.last_run,
      'running', ${running})`
}

/**
 * The live runs (running, lease not expired at `now`) among the runs table's
 * rows selected by `where` (on job_id only: the other conditions are the
 * aggregate's, so the planner's estimate of the rows is the table's), as a
 * jsonb object job id → count.
 */
function liveMapSql (n: Names, where: string, now: string): string {
  return `SELECT coalesce(jsonb_object_agg(counted.job_id, counted.running), '{}') FROM (
      SELECT live.job_id, count(*) FILTER (WHERE live.status = 'running' AND live.lease_until > ${now}) AS running
      FROM ${n.runs} AS live
      WHERE ${where}
      GROUP BY live.job_id
    ) AS counted`
}

/** claim's claims as the parallel arrays its function takes (CLAIM_PARAMS), with how many claims of its job each call has. */
function claimArrays (claims: readonly Claim[]): string[] {
  const perJob = new Map<string, number>()
  for (const claim of claims) perJob.set(claim.jobId, (perJob.get(claim.jobId) ?? 0) + 1)
  return [
    textArray(claims.map((c) => c.jobId)),
    textArray(claims.map((c) => c.kind)),
    integerArray(claims.map((c) => c.scheduledAt)),
    integerArray(claims.map((c) => c.missed)),
    integerArray(claims.map((c) => c.maxInstances)),
    textArray(claims.map((c) => c.runId)),
    integerArray(claims.map((c) => c.version)),
    integerArray(claims.map((c) => perJob.get(c.jobId) as number))
  ]
}

/**
 * Array parameters as PostgreSQL's array literals, built here: pg builds them
 * element by element through its generic value conversion, two regular
 * expression replacements per string included, which took a few ms of the
 * instance's wake for a claim of thousands of fires (these are the wake's
 * critical path). Every text element is quoted; inside quotes only \ and "
 * need escaping. Integers are safe integers (validated), printed in full.
 */
const NEEDS_ESCAPE = /[\\"]/
function textArray (values: readonly string[]): string {
  let literal = '{'
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    literal += (i === 0 ? '"' : ',"') + (NEEDS_ESCAPE.test(value) ? value.replace(/[\\"]/g, '\\$&') : value) + '"'
  }
  return literal + '}'
}

function integerArray (values: readonly number[]): string {
  return `{${values.join(',')}}`
}

/** A job's live runs looked up in such an object (jsonb finds a key by binary search). */
function runningSql (map: string, jobId: string): string {
  return `coalesce((${map} ->> ${jobId})::bigint, 0)`
}

/** reconcile's declared jobs as rows, in order (ord), with the how-manieth declaration of its id each is. */
const DECLARED_SQL = `(
    SELECT d.ord, d.id, d.hash, d.definition, d.paused,
      row_number() OVER (PARTITION BY d.id ORDER BY d.ord) AS occurrence,
      count(*) OVER (PARTITION BY d.id) AS occurrences
    FROM ROWS FROM (jsonb_to_recordset(p_jobs) AS (id text, hash text, definition jsonb, paused boolean))
      WITH ORDINALITY AS d (id, hash, definition, paused, ord)
  )`

/**
 * claim's claims as rows, in order (ord), from its parallel arrays (one
 * element per claim; `per_job`: how many claims of its job the call has,
 * counted by the caller). Arrays, not JSON: nothing to parse field by field.
 */
const CLAIMS_SQL = `unnest(p_job_ids, p_kinds, p_scheduled_at, p_missed, p_max_instances, p_run_ids, p_versions, p_per_job)
      WITH ORDINALITY AS c (job_id, kind, scheduled_at, missed, max_instances, run_id, version, per_job, ord)`

/** claim's arguments after the instance, as the functions declare them (the order CLAIM_ARRAYS has). */
const CLAIM_PARAMS = 'p_job_ids text[], p_kinds text[], p_scheduled_at bigint[], p_missed bigint[], p_max_instances bigint[], p_run_ids text[], p_versions bigint[], p_per_job int[]'
const CLAIM_TYPES = 'text[], text[], bigint[], bigint[], bigint[], text[], bigint[], int[]'

/**
 * Every statement of a function that handles a batch is planned for the call,
 * with the sizes its tables have then and its inputs as constants: PL/pgSQL
 * would otherwise keep a generic plan made once, maybe when the tables were
 * nearly empty, whose nested loops over a scan believed to hold 3 rows are
 * quadratic once it holds thousands. Planning costs well under a millisecond.
 */
const PLANNED_PER_CALL = 'SET plan_cache_mode = force_custom_plan'

/** The functions' signatures, dropped before they are created again: CREATE OR REPLACE can't change what a function returns. */
function functionSignatures (n: Names): string[] {
  return [
    `${n.reconcile}(text, jsonb)`,
    `${n.changeJob}(text, jsonb)`,
    // (Before claims came as arrays they came as jsonb: a database made then has those.)
    `${n.claimSteps}(jsonb, jsonb, jsonb, bigint, bigint)`,
    `${n.claimSteps}(${CLAIM_TYPES}, jsonb, jsonb, bigint, bigint)`,
    `${n.claim}(text, jsonb, bigint)`,
    `${n.claim}(text, ${CLAIM_TYPES}, bigint)`,
    `${n.finish}(text, jsonb)`,
    `${n.heartbeat}(text, bigint[], bigint)`,
    `${n.sweep}()`
  ]
}

/**
 * Everything connect() creates, as one multi-statement query, which connect()
 * runs in a transaction holding an advisory lock: instances connecting at once
 * create the objects one after the other, and only the first that finds them
 * missing creates them (CREATE ... IF NOT EXISTS alone still races on the
 * catalogs). (The constructor adds the marker: see schemaMarker.)
 *
 * The functions are set-based: each statement handles every item of the call
 * (one INSERT ... SELECT, UPDATE ... FROM, DELETE of them all), never one
 * statement per item, and results are built by one json_agg ordered by the
 * items' order. They are also written so that no plan is quadratic whatever
 * the planner believes: the tables' statistics often predate a bulk change
 * (runs come and go), and a scan estimated at one row that returns thousands
 * would otherwise be joined by comparing every pair. So:
 * - each statement is planned for its call (PLANNED_PER_CALL), with the
 *   tables' sizes as they are then;
 * - a set of ids or fences that a table's rows must be in is a jsonb object,
 *   whose keys are found by binary search: a filter, not a join whose other
 *   side is a filtered scan (a filter's selectivity is what statistics get
 *   wrong);
 * - tables are joined to a set on their keys only;
 * - two computed sets are never joined: grouped together, or one looked up in
 *   the other made an object.
 */
function schemaDdl (n: Names, schema: string): string {
  const fences = pg.escapeLiteral(n.fences)
  return `
SET LOCAL client_min_messages TO warning;
-- Only when missing (CREATE SCHEMA checks the right to create one even when it exists); another
-- prefix in the same new schema holds another lock, so its CREATE SCHEMA may win the race.
DO $do$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${pg.escapeLiteral(schema)}) THEN
    CREATE SCHEMA ${n.schema};
  END IF;
EXCEPTION WHEN unique_violation OR duplicate_schema THEN NULL;
END $do$;

CREATE TABLE IF NOT EXISTS ${n.jobs} (
  id text PRIMARY KEY,
  hash text NOT NULL,
  -- Definition hashes seen, newest first (the current one included), at most ${HASH_HISTORY}: an older one never comes back.
  hash_history text[] NOT NULL,
  definition jsonb NOT NULL,
  paused boolean NOT NULL,
  anchor_at bigint NOT NULL,
  version bigint NOT NULL DEFAULT 1,
  -- The latest settled fire (epoch ms); fires at or before it are never claimed again.
  watermark bigint,
  run_count bigint NOT NULL DEFAULT 0,
  missed_count bigint NOT NULL DEFAULT 0,
  skipped_count bigint NOT NULL DEFAULT 0
);
-- Every fire updates its job's row (claim) and its stats row (end): with room left in each page,
-- the new version stays in the page (a HOT update: no index entry, no page of its own), and the
-- instances updating their own jobs at once contend less. Also for tables made before.
ALTER TABLE ${n.jobs} SET (fillfactor = 50);

-- What runs' ends record, apart from the job's row: ends and sweeps lock these rows only, never
-- the job's, which claims lock (at 10,000 fires/s a batch of ends holding thousands of job rows
-- for a second made every claim of those jobs busy). A row appears with the job's first end.
CREATE TABLE IF NOT EXISTS ${n.stats} (
  job_id text PRIMARY KEY,
  success_count bigint NOT NULL DEFAULT 0,
  failure_count bigint NOT NULL DEFAULT 0,
  last_run jsonb
) WITH (fillfactor = 50);
-- A jobs table made before kept these in the job's row: they move (once, under connect()'s lock).
DO $do$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = ${pg.escapeLiteral(n.jobs)}::regclass AND attname = 'success_count' AND NOT attisdropped) THEN
    INSERT INTO ${n.stats} (job_id, success_count, failure_count, last_run)
    SELECT j.id, j.success_count, j.failure_count, j.last_run FROM ${n.jobs} AS j
    ON CONFLICT (job_id) DO NOTHING;
    ALTER TABLE ${n.jobs} DROP COLUMN success_count, DROP COLUMN failure_count, DROP COLUMN last_run;
  END IF;
END $do$;

-- Live runs. A run's row goes when it ends or is swept (the job's stats row keeps the counts and last_run);
-- status is 'running' while it lives, so a run history could keep ended rows without changing what "live" means.
CREATE TABLE IF NOT EXISTS ${n.runs} (
  fence bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME ${n.fences}) PRIMARY KEY,
  job_id text NOT NULL,
  run_id text NOT NULL,
  scheduled_at bigint NOT NULL,
  attempt smallint NOT NULL,
  instance_id text NOT NULL,
  status text NOT NULL DEFAULT 'running',
  started_at bigint NOT NULL,
  lease_until bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS ${n.runsByJob} ON ${n.runs} (job_id);
CREATE INDEX IF NOT EXISTS ${n.runsByLease} ON ${n.runs} (lease_until);
-- A run's row lives from its claim to its end, often under a second: the table is a queue,
-- mostly dead rows unless vacuumed often (by the count of dead rows, not a share of the few live ones).
ALTER TABLE ${n.runs} SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0);

-- Fires that had their one rerun (onLost: 'rerun'); kept after the run rows go.
CREATE TABLE IF NOT EXISTS ${n.reruns} (
  job_id text NOT NULL,
  scheduled_at bigint NOT NULL,
  PRIMARY KEY (job_id, scheduled_at)
);

CREATE TABLE IF NOT EXISTS ${n.instances} (
  id text PRIMARY KEY,
  heartbeat_at bigint NOT NULL,
  started_at bigint NOT NULL,
  -- Lists instances in the order they first reached the store.
  arrival bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME ${n.arrivals})
);

${functionSignatures(n).map((signature) => `DROP FUNCTION IF EXISTS ${signature};`).join('\n')}

-- The store's clock: clock_timestamp(), not now() (frozen for the whole transaction).
CREATE OR REPLACE FUNCTION ${n.now}() RETURNS bigint LANGUAGE sql VOLATILE AS $fn$
  SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
$fn$;

CREATE OR REPLACE FUNCTION ${n.pushHash}(p_history text[], p_hash text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $fn$
  SELECT (array_prepend(p_hash, array_remove(p_history, p_hash)))[1:${HASH_HISTORY}]
$fn$;

-- An instance reached the store. Called last in each function: the instance row is the last lock taken.
CREATE OR REPLACE FUNCTION ${n.touch}(p_instance text, p_now bigint) RETURNS void LANGUAGE sql AS $fn$
  INSERT INTO ${n.instances} (id, heartbeat_at, started_at) VALUES (p_instance, p_now, p_now)
  ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
$fn$;

-- One upsert of every declared job, in id order (the order claims lock in; ON CONFLICT locks
-- the rows it leaves unchanged too). An id declared k times takes k rounds (an upsert can't
-- touch a row twice), the job shown as each declaration left it, as memory.ts does.
CREATE FUNCTION ${n.reconcile}(p_instance text, p_jobs jsonb) RETURNS json LANGUAGE plpgsql ${PLANNED_PER_CALL} AS $fn$
DECLARE
  v_now bigint := ${n.now}();
  v_rounds bigint;
  v_live jsonb;
  -- The job after each declaration followed by another of its id, by ord.
  v_snapshots jsonb := '{}';
  v_stored json;
BEGIN
  SELECT max(d.occurrences) INTO v_rounds FROM ${DECLARED_SQL} AS d;
  FOR v_round IN 1..coalesce(v_rounds, 0) LOOP
    -- A new job is inserted; a known one is redefined only for a hash never stored before; paused is never reset.
    INSERT INTO ${n.jobs} AS j (id, hash, hash_history, definition, paused, anchor_at)
    SELECT d.id, d.hash, ARRAY[d.hash], d.definition, d.paused, v_now
    FROM ${DECLARED_SQL} AS d
    WHERE d.occurrence = v_round
    ORDER BY d.id
    ON CONFLICT (id) DO UPDATE SET
      hash = EXCLUDED.hash,
      hash_history = ${n.pushHash}(j.hash_history, EXCLUDED.hash),
      definition = EXCLUDED.definition,
      anchor_at = EXCLUDED.anchor_at,
      version = j.version + 1
    WHERE j.hash <> EXCLUDED.hash AND NOT EXCLUDED.hash = ANY (j.hash_history);
    IF v_round = 1 THEN
      -- Every declared job is locked now: no claim adds a live run to it until this call ends.
      v_live := (${liveMapSql(n, 'true', 'v_now')});
    END IF;
    IF v_round < v_rounds THEN
      SELECT v_snapshots || coalesce(jsonb_object_agg(d.ord::text, ${jobViewSql('j', runningSql('v_live', 'j.id'))}::jsonb), '{}') INTO v_snapshots
      FROM ${DECLARED_SQL} AS d
      JOIN ${n.jobs} AS j ON j.id = d.id
      LEFT JOIN ${n.stats} AS s ON s.job_id = j.id
      WHERE d.occurrence = v_round AND d.occurrence < d.occurrences;
    END IF;
  END LOOP;
  SELECT coalesce(json_agg(
      CASE WHEN d.occurrence < d.occurrences THEN (v_snapshots -> d.ord::text)::json ELSE ${jobViewSql('j', runningSql('v_live', 'j.id'))} END
      ORDER BY d.ord), '[]') INTO v_stored
  FROM ${DECLARED_SQL} AS d
  JOIN ${n.jobs} AS j ON j.id = d.id
  LEFT JOIN ${n.stats} AS s ON s.job_id = j.id;
  PERFORM ${n.touch}(p_instance, v_now);
  RETURN v_stored;
END
$fn$;

-- Pause, resume or redefine; the notification is sent when this transaction commits.
CREATE FUNCTION ${n.changeJob}(p_id text, p_change jsonb) RETURNS json LANGUAGE plpgsql AS $fn$
DECLARE
  v_now bigint := ${n.now}();
  v_live jsonb;
  v_stored json;
BEGIN
  -- Locked first: no claim of the job is decided meanwhile.
  PERFORM 1 FROM ${n.jobs} WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF p_change ? 'definition' THEN
    UPDATE ${n.jobs} AS j SET
      definition = p_change->'definition',
      hash = p_change->>'hash',
      hash_history = ${n.pushHash}(j.hash_history, p_change->>'hash'),
      anchor_at = v_now,
      version = j.version + 1
    WHERE j.id = p_id;
  ELSE
    UPDATE ${n.jobs} AS j SET
      paused = (p_change->>'paused')::boolean,
      -- Resuming re-anchors; pausing, or resuming a job that was not paused, keeps the anchor.
      anchor_at = CASE WHEN j.paused AND NOT (p_change->>'paused')::boolean THEN v_now ELSE j.anchor_at END,
      version = j.version + 1
    WHERE j.id = p_id;
  END IF;
  v_live := (${liveMapSql(n, 'live.job_id = p_id', 'v_now')});
  SELECT ${jobViewSql('j', runningSql('v_live', 'j.id'))} INTO v_stored
  FROM ${n.jobs} AS j LEFT JOIN ${n.stats} AS s ON s.job_id = j.id
  WHERE j.id = p_id;
  PERFORM pg_notify(${n.notifyChannel}, p_id);
  RETURN v_stored;
END
$fn$;

-- The decisions of memory.ts #claimOne for the claims of jobs claimed more than once in the
-- call: those must be decided one after the other (the watermark moves, a run just won counts
-- against maxInstances), here in one loop over them in (job, order), with the job's state in
-- variables: no statement per claim. It only reads (the calling statement's snapshot); the
-- caller writes the outcomes. p_locked: the ids of the jobs the caller locked (the others are
-- taken or busy, see claim); p_live: the locked jobs' live runs. Claims of a job claimed once
-- are decided by claim's statement itself, by the same rules.
CREATE FUNCTION ${n.claimSteps}(${CLAIM_PARAMS}, p_locked jsonb, p_live jsonb, p_now bigint, p_lease_ms bigint)
RETURNS TABLE (o_ord bigint, o_job_id text, o_kind text, o_scheduled_at bigint, o_missed bigint, o_run_id text, o_status text)
LANGUAGE plpgsql STABLE ${PLANNED_PER_CALL} AS $fn$
DECLARE
  v_claim record;
  v_watermark bigint;
  v_live bigint;
BEGIN
  FOR v_claim IN
    SELECT c.ord, c.job_id, c.kind, c.scheduled_at, c.missed, c.run_id, c.max_instances,
      row_number() OVER (PARTITION BY c.job_id ORDER BY c.ord) AS occurrence,
      j.id IS NOT NULL AS stored, p_locked ? j.id AS locked, j.paused, j.watermark, c.version IS DISTINCT FROM j.version AS stale,
      ${runningSql('p_live', 'c.job_id')} AS live,
      c.kind = 'rerun' AND EXISTS (SELECT 1 FROM ${n.reruns} AS r WHERE r.job_id = c.job_id AND r.scheduled_at = c.scheduled_at) AS rerun_done,
      row_number() OVER (PARTITION BY c.job_id, c.kind, c.scheduled_at ORDER BY c.ord) = 1 AS first_of_fire
    FROM ${CLAIMS_SQL}
    LEFT JOIN ${n.jobs} AS j ON j.id = c.job_id
    WHERE c.per_job > 1
    ORDER BY c.job_id, c.ord
  LOOP
    IF v_claim.occurrence = 1 THEN
      v_watermark := v_claim.watermark;
      v_live := v_claim.live;
    END IF;
    o_ord := v_claim.ord;
    o_job_id := v_claim.job_id;
    o_kind := v_claim.kind;
    o_scheduled_at := v_claim.scheduled_at;
    o_missed := v_claim.missed;
    o_run_id := v_claim.run_id;
    IF NOT v_claim.stored THEN
      o_status := 'unknown';
    ELSIF NOT v_claim.locked THEN
      o_status := CASE WHEN v_claim.kind IN ('fire', 'missed') AND v_claim.scheduled_at <= v_claim.watermark THEN 'taken' ELSE 'busy' END;
    ELSIF v_claim.kind IN ('fire', 'missed') AND v_claim.scheduled_at > p_now THEN
      o_status := 'early';
    ELSIF v_claim.kind IN ('fire', 'missed') AND v_claim.scheduled_at <= v_watermark THEN
      o_status := 'taken';
    ELSIF v_claim.rerun_done THEN
      o_status := 'taken';
    ELSIF v_claim.kind IN ('fire', 'missed', 'rerun') AND v_claim.paused THEN
      o_status := 'paused';
    ELSIF v_claim.kind IN ('fire', 'missed') AND v_claim.stale THEN
      o_status := 'stale';
    ELSIF v_claim.kind = 'rerun' AND NOT v_claim.first_of_fire THEN
      -- An earlier claim of the call reruns this fire.
      o_status := 'taken';
    ELSIF v_claim.kind = 'missed' THEN
      v_watermark := v_claim.scheduled_at;
      o_status := 'missed';
    ELSE
      IF v_claim.kind = 'fire' THEN
        v_watermark := v_claim.scheduled_at;
      END IF;
      IF v_live >= v_claim.max_instances THEN
        o_status := 'skipped';
      ELSE
        o_status := 'run';
        -- A run won here is live for the next claims of its job, unless its lease has already expired.
        IF p_lease_ms > 0 THEN
          v_live := v_live + 1;
        END IF;
      END IF;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$fn$;

-- Every claim of a wake, with its outcome in order. The jobs are locked first, so claims of the
-- same fire from several instances serialize (one wins). A claim never waits for a job's lock:
-- a job another transaction holds is skipped, and its claims are answered 'busy' (the instance
-- claims them again shortly). Waiting would chain: under load, backups reach jobs whose first
-- claim hasn't committed, the next second's claims queue behind those, and the fleet stalls in
-- a convoy of claims waiting for one another (seen at 10,000 fires/s). Nor is a job locked
-- whose every claim here is of a fire at or before its watermark: those are 'taken' whoever
-- asks, and a watermark only moves forward, so a read without a lock can be trusted (backup
-- claims, lib/shares.ts, are nearly all of that kind, and cost no lock). Then one statement
-- decides every claim, records the runs (fences drawn in the claims' order, as memory.ts), the
-- reruns and the jobs' counts and watermarks, and returns the outcomes.
CREATE FUNCTION ${n.claim}(p_instance text, ${CLAIM_PARAMS}, p_lease_ms bigint) RETURNS json LANGUAGE plpgsql ${PLANNED_PER_CALL} AS $fn$
DECLARE
  v_now bigint;
  -- The locked jobs' ids, as the keys of an object.
  v_locked jsonb;
  v_live jsonb;
  v_outcomes json;
BEGIN
  SELECT coalesce(jsonb_object_agg(locked.id, true), '{}') INTO v_locked FROM (
    SELECT j.id FROM ${n.jobs} AS j
    JOIN (
      -- Per job: the latest fire claimed when each of its claims is of a fire (else null: never settled).
      SELECT c.job_id, CASE WHEN bool_and(c.kind IN ('fire', 'missed')) THEN max(c.scheduled_at) END AS settled_at
      FROM unnest(p_job_ids, p_kinds, p_scheduled_at) AS c (job_id, kind, scheduled_at)
      GROUP BY c.job_id
    ) AS c ON c.job_id = j.id
    WHERE c.settled_at IS NULL OR j.watermark IS NULL OR c.settled_at > j.watermark
    ORDER BY j.id FOR UPDATE OF j SKIP LOCKED
  ) AS locked;
  IF v_locked = '{}' THEN
    -- Nothing to lock (backup claims nearly always): each claim is taken, busy or unknown; nothing to record.
    v_now := ${n.now}();
    PERFORM ${n.touch}(p_instance, v_now);
    RETURN (
      SELECT coalesce(json_agg(json_build_object('status',
        CASE
          WHEN j.id IS NULL THEN 'unknown'
          WHEN c.kind IN ('fire', 'missed') AND c.scheduled_at <= j.watermark THEN 'taken'
          ELSE 'busy'
        END) ORDER BY c.ord), '[]')
      FROM ${CLAIMS_SQL}
      LEFT JOIN ${n.jobs} AS j ON j.id = c.job_id
    );
  END IF;
  -- Read after the locks: a claim decides by the time it got them.
  v_now := ${n.now}();
  v_live := (${liveMapSql(n, 'live.job_id IN (SELECT jsonb_object_keys(v_locked))', 'v_now')});
  WITH decided AS MATERIALIZED (
    SELECT d.*, CASE WHEN d.status = 'run' THEN nextval(${fences}) END AS fence
    FROM (
      SELECT * FROM (
        SELECT c.ord, c.job_id, c.kind, c.scheduled_at, c.missed, c.run_id,
          CASE
            WHEN j.id IS NULL THEN 'unknown'
            -- Not locked: settled, or held by another transaction (or inserted by a concurrent reconcile since).
            WHEN NOT v_locked ? j.id THEN CASE WHEN c.kind IN ('fire', 'missed') AND c.scheduled_at <= j.watermark THEN 'taken' ELSE 'busy' END
            WHEN c.kind IN ('fire', 'missed') AND c.scheduled_at > v_now THEN 'early'
            WHEN c.kind IN ('fire', 'missed') AND c.scheduled_at <= j.watermark THEN 'taken'
            WHEN c.kind = 'rerun' AND EXISTS (SELECT 1 FROM ${n.reruns} AS r WHERE r.job_id = c.job_id AND r.scheduled_at = c.scheduled_at) THEN 'taken'
            WHEN c.kind IN ('fire', 'missed', 'rerun') AND j.paused THEN 'paused'
            WHEN c.kind IN ('fire', 'missed') AND c.version IS DISTINCT FROM j.version THEN 'stale'
            WHEN c.kind = 'missed' THEN 'missed'
            WHEN ${runningSql('v_live', 'c.job_id')} >= c.max_instances THEN 'skipped'
            ELSE 'run'
          END AS status
        FROM ${CLAIMS_SQL}
        LEFT JOIN ${n.jobs} AS j ON j.id = c.job_id
        WHERE c.per_job = 1
        UNION ALL
        -- Not even called when each claim is of another job, nearly always.
        SELECT * FROM ${n.claimSteps}(p_job_ids, p_kinds, p_scheduled_at, p_missed, p_max_instances, p_run_ids, p_versions, p_per_job, v_locked, v_live, v_now, p_lease_ms)
        WHERE EXISTS (SELECT 1 FROM unnest(p_per_job) AS per_job WHERE per_job > 1)
      ) AS u
      -- Sorted before the fences are drawn: they follow the claims' order.
      ORDER BY u.ord
    ) AS d
  ),
  new_runs AS (
    INSERT INTO ${n.runs} (fence, job_id, run_id, scheduled_at, attempt, instance_id, started_at, lease_until) OVERRIDING SYSTEM VALUE
    SELECT d.fence, d.job_id, d.run_id, d.scheduled_at, CASE WHEN d.kind = 'rerun' THEN 2 ELSE 1 END, p_instance, v_now, v_now + p_lease_ms
    FROM decided AS d WHERE d.status = 'run'
  ),
  new_reruns AS (
    INSERT INTO ${n.reruns} (job_id, scheduled_at)
    SELECT d.job_id, d.scheduled_at FROM decided AS d WHERE d.kind = 'rerun' AND d.status IN ('run', 'skipped')
  ),
  counted AS (
    -- A fire or missed fire won moves the watermark (to the latest: each was after it) and counts its missed fires.
    UPDATE ${n.jobs} AS jobs SET
      watermark = coalesce(t.watermark, jobs.watermark),
      missed_count = jobs.missed_count + t.missed,
      skipped_count = jobs.skipped_count + t.skipped,
      run_count = jobs.run_count + t.runs
    FROM (
      SELECT d.job_id,
        max(d.scheduled_at) FILTER (WHERE d.kind IN ('fire', 'missed')) AS watermark,
        coalesce(sum(d.missed) FILTER (WHERE d.kind IN ('fire', 'missed')), 0) AS missed,
        count(*) FILTER (WHERE d.status = 'skipped') AS skipped,
        count(*) FILTER (WHERE d.status = 'run') AS runs
      FROM decided AS d
      WHERE d.status IN ('run', 'skipped', 'missed')
      GROUP BY d.job_id
    ) AS t
    WHERE jobs.id = t.job_id
  )
  SELECT coalesce(json_agg(
      CASE d.status
        WHEN 'run' THEN json_build_object('status', 'run', 'fence', d.fence)
        WHEN 'early' THEN json_build_object('status', 'early', 'now', v_now)
        ELSE json_build_object('status', d.status)
      END ORDER BY d.ord), '[]') INTO v_outcomes
  FROM decided AS d;
  PERFORM ${n.touch}(p_instance, v_now);
  RETURN v_outcomes;
END
$fn$;

-- Runs' ends, accepted only from the live run's owner with its fence (the first end of a fence
-- in the call; a repeat is refused). Locks: the runs in fence order, then their jobs' stats rows
-- in id order (never the jobs' rows: claims never wait for ends).
CREATE FUNCTION ${n.finish}(p_instance text, p_ends jsonb) RETURNS json LANGUAGE plpgsql ${PLANNED_PER_CALL} AS $fn$
DECLARE
  -- Each fence's first end: fence → its index in p_ends; and the fences, to find their runs by primary key.
  v_firsts jsonb;
  v_fences bigint[];
  -- The fences of the runs ended: fence → true.
  v_ended jsonb;
  v_accepted json;
BEGIN
  IF jsonb_array_length(p_ends) = 0 THEN
    RETURN '[]';
  END IF;
  -- The last value given for a key is kept: the first end of a fence, here.
  SELECT coalesce(jsonb_object_agg(((x.e->>'fence')::bigint)::text, x.ord - 1 ORDER BY x.ord DESC), '{}'), array_agg((x.e->>'fence')::bigint)
  INTO v_firsts, v_fences
  FROM jsonb_array_elements(p_ends) WITH ORDINALITY AS x (e, ord);
  -- The runs are found by fence (the primary key), never by a scan: the runs table is a queue,
  -- its dead rows outnumber the live ones between vacuums.
  PERFORM 1 FROM ${n.runs} AS r
  WHERE r.fence = ANY (v_fences) AND r.instance_id = p_instance AND r.status = 'running'
  ORDER BY r.fence FOR UPDATE;
  WITH ended AS (
    DELETE FROM ${n.runs} AS r
    WHERE r.fence = ANY (v_fences) AND r.instance_id = p_instance AND r.status = 'running'
    RETURNING r.fence, r.job_id, r.run_id, r.scheduled_at, (v_firsts ->> r.fence::text)::int AS at
  ),
  counted AS (
    INSERT INTO ${n.stats} AS stats (job_id, success_count, failure_count, last_run)
    SELECT d.job_id,
      count(*) FILTER (WHERE d.e->>'status' = 'success'),
      count(*) FILTER (WHERE d.e->>'status' <> 'success'),
      -- The job's last run: its latest end in the call.
      (array_agg(jsonb_build_object(
        'runId', d.run_id, 'scheduledAt', d.scheduled_at,
        'startedAt', d.e->'startedAt', 'finishedAt', d.e->'finishedAt', 'durationMs', d.e->'durationMs',
        'status', d.e->'status', 'error', d.e->'error', 'instanceId', p_instance) ORDER BY d.at DESC))[1]
    FROM (SELECT ended.*, p_ends -> ended.at AS e FROM ended) AS d
    GROUP BY d.job_id
    -- In id order: the order the stats rows are locked in.
    ORDER BY d.job_id
    ON CONFLICT (job_id) DO UPDATE SET
      success_count = stats.success_count + EXCLUDED.success_count,
      failure_count = stats.failure_count + EXCLUDED.failure_count,
      last_run = EXCLUDED.last_run
  )
  SELECT coalesce(jsonb_object_agg(ended.fence::text, true), '{}') INTO v_ended FROM ended;
  SELECT coalesce(json_agg(v_ended ? x.fence AND (v_firsts ->> x.fence)::bigint = x.ord - 1 ORDER BY x.ord), '[]') INTO v_accepted
  FROM (SELECT ((e.value->>'fence')::bigint)::text AS fence, e.ord FROM jsonb_array_elements(p_ends) WITH ORDINALITY AS e (value, ord)) AS x;
  RETURN v_accepted;
END
$fn$;

-- Renews the leases of the instance's runs that are still its own and live (locked in fence
-- order first); the others are lost to it, in the order given.
CREATE FUNCTION ${n.heartbeat}(p_instance text, p_fences bigint[], p_lease_ms bigint) RETURNS json LANGUAGE plpgsql ${PLANNED_PER_CALL} AS $fn$
DECLARE
  v_now bigint := ${n.now}();
  -- The fences renewed: fence → true.
  v_renewed jsonb;
  v_lost json := '[]';
BEGIN
  -- An instance running nothing only says it is alive.
  IF cardinality(p_fences) > 0 THEN
    -- By primary key, as finish.
    PERFORM 1 FROM ${n.runs} AS r
    WHERE r.fence = ANY (p_fences) AND r.instance_id = p_instance AND r.status = 'running'
    ORDER BY r.fence FOR UPDATE;
    WITH renewed AS (
      UPDATE ${n.runs} AS r SET lease_until = v_now + p_lease_ms
      WHERE r.fence = ANY (p_fences) AND r.instance_id = p_instance AND r.status = 'running'
      RETURNING r.fence
    )
    SELECT coalesce(jsonb_object_agg(renewed.fence::text, true), '{}') INTO v_renewed FROM renewed;
    SELECT coalesce(json_agg(u.fence ORDER BY u.ord), '[]') INTO v_lost
    FROM unnest(p_fences) WITH ORDINALITY AS u (fence, ord)
    WHERE NOT v_renewed ? u.fence::text;
  END IF;
  PERFORM ${n.touch}(p_instance, v_now);
  RETURN json_build_object('now', v_now, 'lost', v_lost);
END
$fn$;

-- Live runs whose lease expired become lost. They are locked in fence order and deleted, so each
-- is returned to one sweeper only; then their jobs' stats rows are updated in id order, as
-- finish does. The job's last run is the latest swept (in fence order, as memory.ts).
CREATE FUNCTION ${n.sweep}() RETURNS json LANGUAGE plpgsql ${PLANNED_PER_CALL} AS $fn$
DECLARE
  v_now bigint := ${n.now}();
  -- The runs locked: their fences (runs that expire meanwhile are left to the next sweep).
  v_fences bigint[];
  v_lost json;
BEGIN
  SELECT coalesce(array_agg(expired.fence), '{}') INTO v_fences FROM (
    SELECT r.fence FROM ${n.runs} AS r WHERE r.status = 'running' AND r.lease_until <= v_now
    ORDER BY r.fence FOR UPDATE
  ) AS expired;
  WITH swept AS (
    DELETE FROM ${n.runs} AS r
    WHERE r.fence = ANY (v_fences)
    RETURNING r.*
  ),
  counted AS (
    INSERT INTO ${n.stats} AS stats (job_id, failure_count, last_run)
    SELECT s.job_id, count(*),
      (array_agg(jsonb_build_object(
        'runId', s.run_id, 'scheduledAt', s.scheduled_at, 'startedAt', s.started_at,
        'finishedAt', NULL, 'durationMs', NULL, 'status', 'lost',
        'error', jsonb_build_object('name', 'LostRunError', 'message', format('instance %s stopped renewing the run''s lease', s.instance_id)),
        'instanceId', s.instance_id) ORDER BY s.fence DESC))[1]
    FROM swept AS s
    GROUP BY s.job_id
    ORDER BY s.job_id
    ON CONFLICT (job_id) DO UPDATE SET
      failure_count = stats.failure_count + EXCLUDED.failure_count,
      last_run = EXCLUDED.last_run
  )
  SELECT coalesce(json_agg(json_build_object(
      'jobId', s.job_id, 'runId', s.run_id, 'fence', s.fence, 'scheduledAt', s.scheduled_at,
      'instanceId', s.instance_id, 'attempt', s.attempt) ORDER BY s.fence), '[]') INTO v_lost
  FROM swept AS s;
  RETURN v_lost;
END
$fn$;
`
}
