/**
 * The PostgreSQL store: the Store contract (store.ts) with the same outcomes
 * as the in-memory reference (memory.ts), shared by every instance on one
 * database.
 *
 * Each method is one round trip: the multi-step ones (claim, finish, sweep,
 * reconcile, ...) are PL/pgSQL functions that connect() creates, so a wake
 * costs one statement however many fires are due. Exactly-once comes from row
 * locks: every function that changes jobs first locks the job rows it touches
 * in id order, then run rows in fence order, then the instance row, so
 * concurrent calls from the fleet serialize per job and never deadlock.
 * Times come from the server's clock_timestamp() as epoch ms.
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
  runs: 'runs',
  fences: 'fences',
  runsByJob: 'runs_by_job',
  runsByLease: 'runs_by_lease',
  reruns: 'reruns',
  instances: 'instances',
  arrivals: 'instance_arrivals',
  now: 'now',
  pushHash: 'push_hash',
  liveRuns: 'live_runs',
  jobView: 'job_view',
  touch: 'touch',
  reconcile: 'reconcile',
  changeJob: 'change_job',
  claim: 'claim',
  claimOne: 'claim_one',
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
  readonly #ddl: string
  readonly #subscriptions = new Set<Subscription>()
  #closed = false

  constructor (options: PostgresStoreOptions) {
    const { source, schema, prefix } = validate(options)
    this.#names = namesOf(schema, prefix)
    this.#ddl = schemaDdl(this.#names, schema, prefix)
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
    await this.#query('connect', this.#ddl)
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
    const { jobs, jobView, now } = this.#names
    return await this.#call('readJobs', `
      SELECT coalesce(jsonb_agg(${jobView}(j, clock.now) ORDER BY wanted.ord), '[]') AS result
      FROM (SELECT ${now}() AS now) AS clock
      CROSS JOIN unnest($1::text[]) WITH ORDINALITY AS wanted (id, ord)
      JOIN ${jobs} AS j ON j.id = wanted.id`, [ids])
  }

  async changeJob (id: string, change: JobChangeRequest): Promise<StoredJob | null> {
    return await this.#call('changeJob', `SELECT ${this.#names.changeJob}($1, $2::jsonb) AS result`, [id, JSON.stringify(change)])
  }

  async claim (instanceId: string, claims: readonly Claim[], leaseMs: number): Promise<ClaimOutcome[]> {
    return await this.#call('claim', `SELECT ${this.#names.claim}($1, $2::jsonb, $3) AS result`, [instanceId, JSON.stringify(claims), leaseMs])
  }

  async finish (instanceId: string, ends: readonly RunEnd[]): Promise<boolean[]> {
    return await this.#call('finish', `SELECT ${this.#names.finish}($1, $2::jsonb) AS result`, [instanceId, JSON.stringify(ends)])
  }

  async heartbeat (instanceId: string, fences: readonly number[], leaseMs: number): Promise<HeartbeatResult> {
    return await this.#call('heartbeat', `SELECT ${this.#names.heartbeat}($1, $2::bigint[], $3) AS result`, [instanceId, fences, leaseMs])
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
    const subscription = new Subscription(() => this.#openListenConnection(), this.#names.listenChannel, listener, () => {
      this.#subscriptions.delete(subscription)
    })
    try {
      await subscription.start()
    } catch (err) {
      throw storeUnavailable(this.kind, this.address, 'subscribe', err)
    }
    this.#subscriptions.add(subscription)
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

/** A signed 64-bit advisory lock key from a name (the SQL text inlines it). */
function advisoryKey (name: string): string {
  const digest = createHash('sha256').update(`fastify-scheduler:${name}`).digest()
  return digest.readBigInt64BE(0).toString()
}

/**
 * Everything connect() creates, as one multi-statement query: PostgreSQL runs
 * it as one implicit transaction, so the advisory lock taken first is held
 * to the end and instances connecting at once create the objects one after
 * the other (CREATE ... IF NOT EXISTS alone still races on the catalogs).
 */
function schemaDdl (n: Names, schema: string, prefix: string): string {
  return `
SET LOCAL client_min_messages TO warning;
SELECT pg_advisory_xact_lock(${advisoryKey(`${schema}.${prefix}`)});
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
  success_count bigint NOT NULL DEFAULT 0,
  failure_count bigint NOT NULL DEFAULT 0,
  missed_count bigint NOT NULL DEFAULT 0,
  skipped_count bigint NOT NULL DEFAULT 0,
  last_run jsonb
);

-- Live runs. A run's row goes when it ends or is swept (the job keeps its stats and last_run);
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

-- The store's clock: clock_timestamp(), not now() (frozen for the whole transaction).
CREATE OR REPLACE FUNCTION ${n.now}() RETURNS bigint LANGUAGE sql VOLATILE AS $fn$
  SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
$fn$;

CREATE OR REPLACE FUNCTION ${n.pushHash}(p_history text[], p_hash text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $fn$
  SELECT (array_prepend(p_hash, array_remove(p_history, p_hash)))[1:${HASH_HISTORY}]
$fn$;

-- Runs live in the fleet: running with an unexpired lease.
CREATE OR REPLACE FUNCTION ${n.liveRuns}(p_job_id text, p_now bigint) RETURNS bigint LANGUAGE sql STABLE AS $fn$
  SELECT count(*) FROM ${n.runs} WHERE job_id = p_job_id AND status = 'running' AND lease_until > p_now
$fn$;

-- A job row as the Store's StoredJob.
CREATE OR REPLACE FUNCTION ${n.jobView}(j ${n.jobs}, p_now bigint) RETURNS jsonb LANGUAGE sql STABLE AS $fn$
  SELECT jsonb_build_object(
    'id', j.id, 'hash', j.hash, 'definition', j.definition, 'paused', j.paused,
    'anchorAt', j.anchor_at, 'version', j.version, 'watermark', j.watermark,
    'stats', jsonb_build_object('runs', j.run_count, 'successes', j.success_count, 'failures', j.failure_count,
      'missed', j.missed_count, 'skipped', j.skipped_count),
    'lastRun', j.last_run,
    'running', ${n.liveRuns}(j.id, p_now))
$fn$;

-- An instance reached the store. Called last in each function: the instance row is the last lock taken.
CREATE OR REPLACE FUNCTION ${n.touch}(p_instance text, p_now bigint) RETURNS void LANGUAGE sql AS $fn$
  INSERT INTO ${n.instances} (id, heartbeat_at, started_at) VALUES (p_instance, p_now, p_now)
  ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
$fn$;

-- One atomic upsert per declared job, in id order (the order claims lock in).
CREATE OR REPLACE FUNCTION ${n.reconcile}(p_instance text, p_jobs jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_now bigint := ${n.now}();
  v_job record;
  v_stored jsonb;
BEGIN
  FOR v_job IN
    SELECT d.value->>'id' AS id, d.value->>'hash' AS hash, d.value->'definition' AS definition, (d.value->>'paused')::boolean AS paused
    FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS d (value, ord)
    ORDER BY 1, d.ord
  LOOP
    -- A new job is inserted; a known one is redefined only for a hash never stored before; paused is never reset.
    INSERT INTO ${n.jobs} AS j (id, hash, hash_history, definition, paused, anchor_at)
    VALUES (v_job.id, v_job.hash, ARRAY[v_job.hash], v_job.definition, v_job.paused, v_now)
    ON CONFLICT (id) DO UPDATE SET
      hash = EXCLUDED.hash,
      hash_history = ${n.pushHash}(j.hash_history, EXCLUDED.hash),
      definition = EXCLUDED.definition,
      anchor_at = EXCLUDED.anchor_at,
      version = j.version + 1
    WHERE j.hash <> EXCLUDED.hash AND NOT EXCLUDED.hash = ANY (j.hash_history);
  END LOOP;
  SELECT coalesce(jsonb_agg(${n.jobView}(j, v_now) ORDER BY d.ord), '[]') INTO v_stored
  FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS d (value, ord)
  JOIN ${n.jobs} AS j ON j.id = d.value->>'id';
  PERFORM ${n.touch}(p_instance, v_now);
  RETURN v_stored;
END
$fn$;

-- Pause, resume or redefine; the notification is sent when this transaction commits.
CREATE OR REPLACE FUNCTION ${n.changeJob}(p_id text, p_change jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_now bigint := ${n.now}();
  v_job ${n.jobs};
BEGIN
  IF p_change ? 'definition' THEN
    UPDATE ${n.jobs} AS j SET
      definition = p_change->'definition',
      hash = p_change->>'hash',
      hash_history = ${n.pushHash}(j.hash_history, p_change->>'hash'),
      anchor_at = v_now,
      version = j.version + 1
    WHERE j.id = p_id
    RETURNING j.* INTO v_job;
  ELSE
    UPDATE ${n.jobs} AS j SET
      paused = (p_change->>'paused')::boolean,
      -- Resuming re-anchors; pausing, or resuming a job that was not paused, keeps the anchor.
      anchor_at = CASE WHEN j.paused AND NOT (p_change->>'paused')::boolean THEN v_now ELSE j.anchor_at END,
      version = j.version + 1
    WHERE j.id = p_id
    RETURNING j.* INTO v_job;
  END IF;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify(${n.notifyChannel}, p_id);
  RETURN ${n.jobView}(v_job, v_now);
END
$fn$;

-- memory.ts #claimOne, with the job row locked by the caller.
CREATE OR REPLACE FUNCTION ${n.claimOne}(p_instance text, p_claim jsonb, p_lease_ms bigint, p_now bigint) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_job_id text := p_claim->>'jobId';
  v_kind text := p_claim->>'kind';
  v_scheduled_at bigint := (p_claim->>'scheduledAt')::bigint;
  v_job ${n.jobs};
  v_fence bigint;
BEGIN
  -- FOR UPDATE again: a job inserted after the caller's lock (by a concurrent reconcile) is locked here.
  SELECT * INTO v_job FROM ${n.jobs} WHERE id = v_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN '{"status":"unknown"}';
  END IF;
  IF v_kind IN ('fire', 'missed') THEN
    IF v_scheduled_at > p_now THEN
      RETURN jsonb_build_object('status', 'early', 'now', p_now);
    END IF;
    IF v_job.watermark IS NOT NULL AND v_scheduled_at <= v_job.watermark THEN
      RETURN '{"status":"taken"}';
    END IF;
    IF v_job.paused THEN
      RETURN '{"status":"paused"}';
    END IF;
    UPDATE ${n.jobs} SET watermark = v_scheduled_at, missed_count = missed_count + (p_claim->>'missed')::bigint WHERE id = v_job_id;
    IF v_kind = 'missed' THEN
      RETURN '{"status":"missed"}';
    END IF;
  ELSIF v_kind = 'rerun' THEN
    IF EXISTS (SELECT 1 FROM ${n.reruns} WHERE job_id = v_job_id AND scheduled_at = v_scheduled_at) THEN
      RETURN '{"status":"taken"}';
    END IF;
    IF v_job.paused THEN
      RETURN '{"status":"paused"}';
    END IF;
    INSERT INTO ${n.reruns} (job_id, scheduled_at) VALUES (v_job_id, v_scheduled_at);
  END IF;
  IF ${n.liveRuns}(v_job_id, p_now) >= (p_claim->>'maxInstances')::bigint THEN
    UPDATE ${n.jobs} SET skipped_count = skipped_count + 1 WHERE id = v_job_id;
    RETURN '{"status":"skipped"}';
  END IF;
  INSERT INTO ${n.runs} (job_id, run_id, scheduled_at, attempt, instance_id, started_at, lease_until)
  VALUES (v_job_id, p_claim->>'runId', v_scheduled_at, CASE WHEN v_kind = 'rerun' THEN 2 ELSE 1 END, p_instance, p_now, p_now + p_lease_ms)
  RETURNING fence INTO v_fence;
  UPDATE ${n.jobs} SET run_count = run_count + 1 WHERE id = v_job_id;
  RETURN jsonb_build_object('status', 'run', 'fence', v_fence);
END
$fn$;

-- Every claim of a wake, in order; the jobs are locked first, in id order, so claims of
-- the same fires from several instances serialize per job (one wins) and never deadlock.
CREATE OR REPLACE FUNCTION ${n.claim}(p_instance text, p_claims jsonb, p_lease_ms bigint) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_now bigint;
  v_claim jsonb;
  v_outcomes jsonb[] := '{}';
BEGIN
  PERFORM 1 FROM ${n.jobs}
  WHERE id IN (SELECT e.c->>'jobId' FROM jsonb_array_elements(p_claims) AS e (c))
  ORDER BY id FOR UPDATE;
  -- Read after the locks: a claim that waited decides by the time it got them.
  v_now := ${n.now}();
  FOR v_claim IN SELECT c FROM jsonb_array_elements(p_claims) WITH ORDINALITY AS e (c, ord) ORDER BY ord LOOP
    v_outcomes := v_outcomes || ${n.claimOne}(p_instance, v_claim, p_lease_ms, v_now);
  END LOOP;
  PERFORM ${n.touch}(p_instance, v_now);
  RETURN to_jsonb(v_outcomes);
END
$fn$;

-- Runs' ends, accepted only from the live run's owner with its fence.
CREATE OR REPLACE FUNCTION ${n.finish}(p_instance text, p_ends jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_end jsonb;
  v_run ${n.runs};
  v_found boolean;
  v_accepted boolean[] := '{}';
BEGIN
  PERFORM 1 FROM ${n.jobs}
  WHERE id IN (SELECT job_id FROM ${n.runs} WHERE fence IN (SELECT (x.e->>'fence')::bigint FROM jsonb_array_elements(p_ends) AS x (e)))
  ORDER BY id FOR UPDATE;
  PERFORM 1 FROM ${n.runs}
  WHERE fence IN (SELECT (x.e->>'fence')::bigint FROM jsonb_array_elements(p_ends) AS x (e))
  ORDER BY fence FOR UPDATE;
  FOR v_end IN SELECT e FROM jsonb_array_elements(p_ends) WITH ORDINALITY AS x (e, ord) ORDER BY ord LOOP
    DELETE FROM ${n.runs}
    WHERE fence = (v_end->>'fence')::bigint AND instance_id = p_instance AND status = 'running'
    RETURNING * INTO v_run;
    v_found := FOUND;
    IF v_found THEN
      UPDATE ${n.jobs} SET
        success_count = success_count + CASE WHEN v_end->>'status' = 'success' THEN 1 ELSE 0 END,
        failure_count = failure_count + CASE WHEN v_end->>'status' = 'success' THEN 0 ELSE 1 END,
        last_run = jsonb_build_object(
          'runId', v_run.run_id, 'scheduledAt', v_run.scheduled_at,
          'startedAt', v_end->'startedAt', 'finishedAt', v_end->'finishedAt', 'durationMs', v_end->'durationMs',
          'status', v_end->'status', 'error', v_end->'error', 'instanceId', p_instance)
      WHERE id = v_run.job_id;
    END IF;
    v_accepted := v_accepted || v_found;
  END LOOP;
  RETURN to_jsonb(v_accepted);
END
$fn$;

-- Renews the leases of the instance's runs that are still its own and live; the others are lost to it.
CREATE OR REPLACE FUNCTION ${n.heartbeat}(p_instance text, p_fences bigint[], p_lease_ms bigint) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_now bigint := ${n.now}();
  v_renewed bigint[];
  v_lost jsonb;
BEGIN
  WITH mine AS (
    SELECT fence FROM ${n.runs}
    WHERE fence = ANY (p_fences) AND instance_id = p_instance AND status = 'running'
    ORDER BY fence FOR UPDATE
  ), renewed AS (
    UPDATE ${n.runs} AS r SET lease_until = v_now + p_lease_ms FROM mine WHERE r.fence = mine.fence RETURNING r.fence
  )
  SELECT coalesce(array_agg(fence), '{}') INTO v_renewed FROM renewed;
  SELECT coalesce(jsonb_agg(f ORDER BY ord), '[]') INTO v_lost
  FROM unnest(p_fences) WITH ORDINALITY AS u (f, ord)
  WHERE f <> ALL (v_renewed);
  PERFORM ${n.touch}(p_instance, v_now);
  RETURN jsonb_build_object('now', v_now, 'lost', v_lost);
END
$fn$;

-- Live runs whose lease expired become lost. Their rows are locked (jobs first, then runs in
-- fence order) and deleted, so each is returned to one sweeper only.
CREATE OR REPLACE FUNCTION ${n.sweep}() RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_now bigint := ${n.now}();
  v_job_ids text[];
  v_run ${n.runs};
  v_lost jsonb[] := '{}';
BEGIN
  SELECT coalesce(array_agg(locked.id), '{}') INTO v_job_ids FROM (
    SELECT id FROM ${n.jobs}
    WHERE id IN (SELECT job_id FROM ${n.runs} WHERE status = 'running' AND lease_until <= v_now)
    ORDER BY id FOR UPDATE
  ) AS locked;
  -- Runs that expired after the jobs were locked are left to the next sweep.
  FOR v_run IN
    SELECT * FROM ${n.runs}
    WHERE status = 'running' AND lease_until <= v_now AND job_id = ANY (v_job_ids)
    ORDER BY fence FOR UPDATE
  LOOP
    DELETE FROM ${n.runs} WHERE fence = v_run.fence;
    UPDATE ${n.jobs} SET
      failure_count = failure_count + 1,
      last_run = jsonb_build_object(
        'runId', v_run.run_id, 'scheduledAt', v_run.scheduled_at, 'startedAt', v_run.started_at,
        'finishedAt', NULL, 'durationMs', NULL, 'status', 'lost',
        'error', jsonb_build_object('name', 'LostRunError', 'message', format('instance %s stopped renewing the run''s lease', v_run.instance_id)),
        'instanceId', v_run.instance_id)
    WHERE id = v_run.job_id;
    v_lost := v_lost || jsonb_build_object(
      'jobId', v_run.job_id, 'runId', v_run.run_id, 'fence', v_run.fence, 'scheduledAt', v_run.scheduled_at,
      'instanceId', v_run.instance_id, 'attempt', v_run.attempt);
  END LOOP;
  RETURN to_jsonb(v_lost);
END
$fn$;
`
}
