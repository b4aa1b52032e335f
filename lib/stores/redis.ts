/**
 * The Redis store (`fastify-scheduler/redis`): the Store contract of
 * lib/stores/store.ts, with the same outcomes as the in-memory reference
 * (lib/stores/memory.ts), shared by every instance that uses the same Redis and
 * prefix.
 *
 * Every method is one Lua script, so it is one round trip and atomic: claims
 * from several instances serialize on the server and each fire is won once.
 * The scripts take their time from Redis `TIME` (the store's clock). Every key
 * and the notification channel start with the hash tag `{prefix}`, so a
 * script only ever touches one Redis Cluster slot.
 *
 * Keys, with B = `{prefix}`:
 * - `B:job:<id>`     hash: the job (definition as JSON, paused, anchorAt,
 *                    version, watermark, stats, lastRun as JSON, the last hashes)
 * - `B:run:<fence>`  hash: a live run (jobId, runId, scheduledAt, attempt,
 *                    instanceId, startedAt); deleted when it ends or is lost
 * - `B:live`         zset: every live run's fence, scored by its lease expiry
 * - `B:runs:<id>`    zset: the job's live fences, same scores (maxInstances counts)
 * - `B:reruns:<id>`  set: the job's fires (scheduledAt) that had their one rerun
 * - `B:fence`        counter: the last fence handed out
 * - `B:instances`    zset: instance ids scored by their last contact;
 *   `B:started`      hash: instance id → when it was first seen
 * - `B:changes`      pub/sub channel: the id of every changed job
 * A client's `keyPrefix` goes before the keys (`app:{prefix}:job:<id>`: still
 * one slot), not before the channel. Nothing expires: Redis must not evict these
 * keys (maxmemory-policy noeviction or volatile-*). Needs Redis 5 or newer
 * (scripts replicated by their effects, so `TIME` may precede writes).
 *
 * Replication in Redis is asynchronous: a claim acknowledged by a primary that
 * fails over before its replica got it can be won again on the new primary, so
 * across a failover the guarantee is at-least-once (README, "Shared stores").
 */
import { createHash } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Cluster, ClusterNode } from 'ioredis'
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
  StoredJob,
  StoredRun
} from './store.js'

export interface RedisStoreOptions {
  /** A client you own (a Redis or a Cluster): the store never closes it. Give this or `url`. */
  client?: Redis | Cluster
  /** `redis://[:password@]host[:port][/db]` (or `rediss://`): the store creates its own client and closes it in `close()`. */
  url?: string
  /** Namespaces the keys (`{prefix}:…`); instances with the same prefix form one fleet. Default 'fastify-scheduler'. */
  prefix?: string
  /** How long `connect()` may take before it fails (ms). Default 5000. */
  connectTimeout?: number
}

const DEFAULT_PREFIX = 'fastify-scheduler'
const DEFAULT_CONNECT_TIMEOUT = 5000
/** Reconnection backoff of a client the store created: 100 ms doubling, at most 5 s between attempts. */
const RETRY_BASE_MS = 100
const RETRY_CAP_MS = 5000

export function redisStore (options: RedisStoreOptions): Store {
  return new RedisStore(options)
}

/** The job hash fields a view returns, in this order (`toStoredJob` reads them by position). */
const VIEW_FIELDS = ['id', 'hash', 'definition', 'paused', 'anchorAt', 'version', 'watermark', 'runs', 'successes', 'failures', 'missed', 'skipped', 'lastRun'] as const

/**
 * Shared by every script. KEYS[1] is the hash tag `{prefix}` itself: no key
 * has that name, but it routes the script to the slot every key lives in (in
 * a Cluster) and the keys are built from it.
 */
const PRELUDE = `
local base = KEYS[1]
local function key (kind, id) return base .. ':' .. kind .. ':' .. id end
local LIVE = base .. ':live'
local INSTANCES = base .. ':instances'
local STARTED = base .. ':started'

-- The store's clock, epoch ms.
local function clock ()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- Integral numbers as digits (Lua's own concatenation would switch to exponents).
local function int (n) return string.format('%d', n) end

local function touch (instance, now)
  redis.call('ZADD', INSTANCES, now, instance)
  redis.call('HSETNX', STARTED, instance, now)
end

-- Live runs of a job: lease expiry strictly after now.
local function running (jobId, now)
  return redis.call('ZCOUNT', key('runs', jobId), '(' .. int(now), '+inf')
end

local function view (jobId, now)
  local fields = redis.call('HMGET', key('job', jobId), ${VIEW_FIELDS.map((field) => `'${field}'`).join(', ')})
  fields[#fields + 1] = running(jobId, now)
  return fields
end

local function removeLive (fence, jobId)
  redis.call('DEL', key('run', fence))
  redis.call('ZREM', LIVE, fence)
  redis.call('ZREM', key('runs', jobId), fence)
end

-- A StoredRun as JSON; numbers are spliced in as they were stored, never re-encoded.
local function storedRun (runId, scheduledAt, members, instanceId)
  return '{"runId":' .. cjson.encode(runId) .. ',"scheduledAt":' .. scheduledAt .. ',' .. members .. ',"instanceId":' .. cjson.encode(instanceId) .. '}'
end

-- A new definition: re-anchored now, its hash first in the history.
local function redefine (jobKey, definition, hash, now)
  local history = { hash }
  for _, old in ipairs(cjson.decode(redis.call('HGET', jobKey, 'history'))) do
    if old ~= hash and #history < ${HASH_HISTORY} then history[#history + 1] = old end
  end
  redis.call('HSET', jobKey, 'definition', definition, 'hash', hash, 'history', cjson.encode(history), 'anchorAt', now)
  redis.call('HINCRBY', jobKey, 'version', 1)
end
`

interface LuaScript {
  source: string
  sha: string
}

function luaScript (body: string): LuaScript {
  const source = PRELUDE + body
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

const SCRIPTS = {
  now: luaScript('return clock()'),

  // ARGV: instanceId, then per job: id, hash, definition JSON, paused '1' | '0'.
  reconcile: luaScript(`
local now = clock()
touch(ARGV[1], now)
local out = {}
for i = 2, #ARGV, 4 do
  local id, hash, definition, paused = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local jobKey = key('job', id)
  local stored = redis.call('HMGET', jobKey, 'hash', 'history')
  if not stored[1] then
    redis.call('HSET', jobKey, 'id', id, 'hash', hash, 'history', cjson.encode({ hash }), 'definition', definition,
      'paused', paused, 'anchorAt', now, 'version', 1, 'runs', 0, 'successes', 0, 'failures', 0, 'missed', 0, 'skipped', 0)
  elseif stored[1] ~= hash then
    local known = false
    for _, old in ipairs(cjson.decode(stored[2])) do
      if old == hash then known = true end
    end
    -- An older definition (another version of the app still running) never wins over the stored one.
    if not known then redefine(jobKey, definition, hash, now) end
  end
  out[#out + 1] = view(id, now)
end
return out
`),

  // ARGV: job ids.
  readJobs: luaScript(`
local now = clock()
local out = {}
for _, id in ipairs(ARGV) do
  if redis.call('EXISTS', key('job', id)) == 1 then out[#out + 1] = view(id, now) end
end
return out
`),

  // ARGV: job ids. Returns id, version, id, version, ... for the known ones.
  versions: luaScript(`
local out = {}
for _, id in ipairs(ARGV) do
  local version = redis.call('HGET', key('job', id), 'version')
  if version then
    out[#out + 1] = id
    out[#out + 1] = tonumber(version)
  end
end
return out
`),

  // ARGV: id, channel, action 'pause' | 'resume' | 'define', hash, definition JSON.
  changeJob: luaScript(`
local id, channel, action = ARGV[1], ARGV[2], ARGV[3]
local jobKey = key('job', id)
local paused = redis.call('HGET', jobKey, 'paused')
if not paused then return false end
local now = clock()
if action == 'define' then
  redefine(jobKey, ARGV[5], ARGV[4], now)
else
  if action == 'resume' and paused == '1' then redis.call('HSET', jobKey, 'anchorAt', now) end
  redis.call('HSET', jobKey, 'paused', action == 'pause' and '1' or '0')
  redis.call('HINCRBY', jobKey, 'version', 1)
end
-- Inside the script: a listener that re-reads on the message always sees the change.
redis.call('PUBLISH', channel, id)
return view(id, now)
`),

  // ARGV: instanceId, leaseMs, then per claim: jobId, kind, scheduledAt, missed, maxInstances, runId, version.
  // Returns the store's now, then per claim a fence (won: run) or a status.
  claim: luaScript(`
local instance, leaseMs = ARGV[1], tonumber(ARGV[2])
local now = clock()
touch(instance, now)

local function claimOne (jobId, kind, scheduledAt, missed, maxInstances, runId, version)
  local jobKey = key('job', jobId)
  local job = redis.call('HMGET', jobKey, 'paused', 'watermark', 'version')
  if not job[1] then return 'unknown' end
  local at = tonumber(scheduledAt)
  if kind == 'fire' or kind == 'missed' then
    if at > now then return 'early' end
    if job[2] and at <= tonumber(job[2]) then return 'taken' end
    if job[1] == '1' then return 'paused' end
    if job[3] ~= version then return 'stale' end
    redis.call('HSET', jobKey, 'watermark', scheduledAt)
    redis.call('HINCRBY', jobKey, 'missed', missed)
    if kind == 'missed' then return 'missed' end
  elseif kind == 'rerun' then
    local reruns = key('reruns', jobId)
    if redis.call('SISMEMBER', reruns, scheduledAt) == 1 then return 'taken' end
    if job[1] == '1' then return 'paused' end
    redis.call('SADD', reruns, scheduledAt)
  end
  if running(jobId, now) >= tonumber(maxInstances) then
    redis.call('HINCRBY', jobKey, 'skipped', 1)
    return 'skipped'
  end
  local fence = redis.call('INCR', base .. ':fence')
  local lease = now + leaseMs
  redis.call('HSET', key('run', fence), 'jobId', jobId, 'runId', runId, 'scheduledAt', scheduledAt,
    'attempt', kind == 'rerun' and 2 or 1, 'instanceId', instance, 'startedAt', now)
  redis.call('ZADD', LIVE, lease, fence)
  redis.call('ZADD', key('runs', jobId), lease, fence)
  redis.call('HINCRBY', jobKey, 'runs', 1)
  return fence
end

local out = { now }
for i = 3, #ARGV, 7 do
  out[#out + 1] = claimOne(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6])
end
return out
`),

  // ARGV: instanceId, then per end: fence, status, the end's StoredRun members as JSON (no braces).
  // Returns 1 (accepted) or 0 per end.
  finish: luaScript(`
local instance = ARGV[1]
local out = {}
for i = 2, #ARGV, 3 do
  local fence, status, members = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local run = redis.call('HMGET', key('run', fence), 'jobId', 'runId', 'scheduledAt', 'instanceId')
  if run[1] and run[4] == instance then
    removeLive(fence, run[1])
    local jobKey = key('job', run[1])
    if redis.call('EXISTS', jobKey) == 1 then
      redis.call('HINCRBY', jobKey, status == 'success' and 'successes' or 'failures', 1)
      redis.call('HSET', jobKey, 'lastRun', storedRun(run[2], run[3], members, instance))
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`),

  // ARGV: instanceId, leaseMs, fences. Returns the store's now, then 1 (lost) or 0 (renewed) per fence.
  heartbeat: luaScript(`
local instance = ARGV[1]
local now = clock()
local lease = now + tonumber(ARGV[2])
touch(instance, now)
local out = { now }
for i = 3, #ARGV do
  local fence = ARGV[i]
  local run = redis.call('HMGET', key('run', fence), 'jobId', 'instanceId')
  if run[1] and run[2] == instance then
    redis.call('ZADD', LIVE, 'XX', lease, fence)
    redis.call('ZADD', key('runs', run[1]), 'XX', lease, fence)
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
  end
end
return out
`),

  // Returns per lost run, in fence order like the reference: jobId, runId, fence, scheduledAt, instanceId, attempt.
  sweep: luaScript(`
local now = clock()
local fences = redis.call('ZRANGEBYSCORE', LIVE, '-inf', now)
-- The zset orders them by lease expiry.
table.sort(fences, function (a, b) return tonumber(a) < tonumber(b) end)
local out = {}
for _, fence in ipairs(fences) do
  local run = redis.call('HMGET', key('run', fence), 'jobId', 'runId', 'scheduledAt', 'instanceId', 'attempt', 'startedAt')
  if not run[1] then
    -- The run's record is gone (deleted or evicted behind the store): nothing to report.
    redis.call('ZREM', LIVE, fence)
  else
    removeLive(fence, run[1])
    local jobKey = key('job', run[1])
    if redis.call('EXISTS', jobKey) == 1 then
      local message = 'instance ' .. run[4] .. " stopped renewing the run's lease"
      local members = '"startedAt":' .. run[6] .. ',"finishedAt":null,"durationMs":null,"status":"lost",' ..
        '"error":{"name":"LostRunError","message":' .. cjson.encode(message) .. '}'
      redis.call('HINCRBY', jobKey, 'failures', 1)
      redis.call('HSET', jobKey, 'lastRun', storedRun(run[2], run[3], members, run[4]))
    end
    for _, value in ipairs({ run[1], run[2], fence, run[3], run[4], run[5] }) do out[#out + 1] = value end
  end
end
return out
`),

  // ARGV: withinMs. Returns per instance, in the order first seen like the reference: id, heartbeatAt, startedAt.
  instances: luaScript(`
local now = clock()
local seen = redis.call('ZRANGEBYSCORE', INSTANCES, now - tonumber(ARGV[1]), '+inf', 'WITHSCORES')
local instances = {}
for i = 1, #seen, 2 do
  instances[#instances + 1] = { seen[i], seen[i + 1], redis.call('HGET', STARTED, seen[i]) }
end
-- The zset orders them by last contact; ties (same ms) by id.
table.sort(instances, function (a, b)
  if a[3] ~= b[3] then return tonumber(a[3]) < tonumber(b[3]) end
  return a[1] < b[1]
end)
local out = {}
for _, instance in ipairs(instances) do
  for _, value in ipairs(instance) do out[#out + 1] = value end
end
return out
`),

  // ARGV: instanceId.
  leave: luaScript(`
redis.call('ZREM', INSTANCES, ARGV[1])
redis.call('HDEL', STARTED, ARGV[1])
return 0
`)
} as const

type ScriptArg = string | number

class RedisStore implements Store {
  readonly kind = 'redis'
  readonly address: string
  readonly #client: Redis | Cluster
  /** Created here from `url`: ours to close. */
  readonly #owned: boolean
  /** The hash tag every key starts with. */
  readonly #base: string
  /**
   * `{prefix}:changes`. Named here, not in the script, because a client's
   * `keyPrefix` applies to the keys a script is given but not to channels.
   */
  readonly #channel: string
  readonly #connectTimeout: number
  readonly #subscribers = new Set<Redis | Cluster>()
  /** The latest connection error of a client the store created (its error event), for connect()'s message. */
  #lastError: unknown

  constructor (options: RedisStoreOptions) {
    const { client, url, prefix, connectTimeout } = validate(options)
    this.#connectTimeout = connectTimeout
    this.#base = `{${prefix}}`
    this.#channel = `${this.#base}:changes`
    this.#owned = client === undefined
    this.#client = client ?? this.#createClient(url as string)
    this.address = addressOf(this.#client)
  }

  #createClient (url: string): Redis {
    const client = new Redis(url, {
      // connect() reaches the server, so that a failure is reported by it (and not at the first command).
      lazyConnect: true,
      connectTimeout: this.#connectTimeout,
      // While disconnected, commands fail at once (the scheduler retries and polls) instead of
      // queueing; commands in flight when the connection drops fail too.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Reconnects in the background with a capped backoff.
      retryStrategy: (attempt) => Math.min(RETRY_BASE_MS * 2 ** attempt, RETRY_CAP_MS),
      connectionName: 'fastify-scheduler'
    })
    // A connection error is reported by the call it fails; it must never crash the process.
    client.on('error', this.#recordError)
    return client
  }

  readonly #recordError = (err: unknown): void => {
    this.#lastError = err
  }

  async connect (): Promise<void> {
    this.#lastError = undefined
    try {
      await withTimeout(this.#reach(), this.#connectTimeout)
    } catch (err) {
      // Stop reconnecting in the background: a failed connect() leaves nothing running; a later one starts over.
      if (this.#owned) this.#client.disconnect()
      throw storeUnavailable(this.kind, this.address, 'connect', this.#lastError ?? err)
    }
  }

  async #reach (): Promise<void> {
    const status = this.#client.status
    if (this.#owned && (status === 'wait' || status === 'end')) await this.#client.connect()
    await this.#client.ping()
    // Loaded up front so that a broken script fails here; the calls still fall back to EVAL (see #eval).
    await Promise.all(Object.values(SCRIPTS).map(async (script) => await this.#client.script('LOAD', script.source)))
  }

  async close (): Promise<void> {
    const subscribers = [...this.#subscribers]
    this.#subscribers.clear()
    await Promise.all(subscribers.map(release))
    if (this.#owned) await release(this.#client)
  }

  async now (): Promise<number> {
    return await this.#call('now', SCRIPTS.now, []) as number
  }

  async reconcile (instanceId: string, jobs: readonly DeclaredJob[]): Promise<StoredJob[]> {
    const args = jobs.flatMap((job) => [job.id, job.hash, JSON.stringify(job.definition), job.paused ? '1' : '0'])
    const rows = await this.#call('reconcile', SCRIPTS.reconcile, [instanceId, ...args]) as unknown[][]
    return rows.map(toStoredJob)
  }

  async readJobs (ids: readonly string[]): Promise<StoredJob[]> {
    const rows = await this.#call('readJobs', SCRIPTS.readJobs, ids) as unknown[][]
    return rows.map(toStoredJob)
  }

  async versions (ids: readonly string[]): Promise<Record<string, number>> {
    const flat = await this.#call('versions', SCRIPTS.versions, ids) as Array<string | number>
    const out: Record<string, number> = {}
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1] as number
    return out
  }

  async changeJob (id: string, change: JobChangeRequest): Promise<StoredJob | null> {
    const args = 'definition' in change
      ? [id, this.#channel, 'define', change.hash, JSON.stringify(change.definition)]
      : [id, this.#channel, change.paused ? 'pause' : 'resume']
    const row = await this.#call('changeJob', SCRIPTS.changeJob, args) as unknown[] | null
    return row === null ? null : toStoredJob(row)
  }

  async claim (instanceId: string, claims: readonly Claim[], leaseMs: number): Promise<ClaimOutcome[]> {
    const args = claims.flatMap((claim) => [claim.jobId, claim.kind, claim.scheduledAt, claim.missed, claim.maxInstances, claim.runId, claim.version])
    const [now, ...outcomes] = await this.#call('claim', SCRIPTS.claim, [instanceId, leaseMs, ...args]) as [number, ...Array<number | string>]
    return outcomes.map((outcome) => toClaimOutcome(outcome, now))
  }

  async finish (instanceId: string, ends: readonly RunEnd[]): Promise<boolean[]> {
    const args = ends.flatMap((end) => [end.fence, end.status, endMembers(end)])
    const accepted = await this.#call('finish', SCRIPTS.finish, [instanceId, ...args]) as number[]
    return accepted.map((flag) => flag === 1)
  }

  async heartbeat (instanceId: string, fences: readonly number[], leaseMs: number): Promise<HeartbeatResult> {
    const [now, ...lostFlags] = await this.#call('heartbeat', SCRIPTS.heartbeat, [instanceId, leaseMs, ...fences]) as number[]
    return { now, lost: fences.filter((_, index) => lostFlags[index] === 1) }
  }

  async sweep (): Promise<LostRun[]> {
    const flat = await this.#call('sweep', SCRIPTS.sweep, []) as string[]
    const lost: LostRun[] = []
    for (let i = 0; i < flat.length; i += 6) {
      const [jobId, runId, fence, scheduledAt, instanceId, attempt] = flat.slice(i, i + 6)
      lost.push({ jobId, runId, fence: Number(fence), scheduledAt: Number(scheduledAt), instanceId, attempt: Number(attempt) })
    }
    return lost
  }

  async instances (withinMs: number): Promise<InstanceInfo[]> {
    // Capped so that Infinity ("every instance ever seen") stays a number Redis reads.
    const flat = await this.#call('instances', SCRIPTS.instances, [Math.min(withinMs, Number.MAX_SAFE_INTEGER)]) as string[]
    const seen: InstanceInfo[] = []
    for (let i = 0; i < flat.length; i += 3) {
      seen.push({ id: flat[i], heartbeatAt: Number(flat[i + 1]), startedAt: Number(flat[i + 2]) })
    }
    return seen
  }

  async leave (instanceId: string): Promise<void> {
    await this.#call('leave', SCRIPTS.leave, [instanceId])
  }

  async subscribe (listener: (jobIds: string[]) => void): Promise<() => Promise<void>> {
    // A connection in subscriber mode can't run commands: a second one, ours to close.
    const subscriber = lazyDuplicate(this.#client)
    // ioredis reconnects and re-subscribes by itself; meanwhile the scheduler polls.
    subscriber.on('error', this.#recordError)
    subscriber.on('message', (_channel: string, jobId: string) => listener([jobId]))
    try {
      await subscriber.connect()
      await subscriber.subscribe(this.#channel)
    } catch (err) {
      subscriber.disconnect()
      throw storeUnavailable(this.kind, this.address, 'subscribe', err)
    }
    this.#subscribers.add(subscriber)
    return async () => {
      this.#subscribers.delete(subscriber)
      await release(subscriber)
    }
  }

  /** Runs a script, as a SchedulerError FST_SCHEDULER_STORE_UNAVAILABLE when Redis can't be reached or fails it. */
  async #call (action: string, script: LuaScript, args: readonly ScriptArg[]): Promise<unknown> {
    try {
      return await this.#eval(script, args)
    } catch (err) {
      throw storeUnavailable(this.kind, this.address, action, err)
    }
  }

  /** By its SHA; with the source when the server doesn't have it (a restart, a failover, SCRIPT FLUSH). */
  async #eval (script: LuaScript, args: readonly ScriptArg[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(script.sha, 1, this.#base, ...args)
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err
      return await this.#client.eval(script.source, 1, this.#base, ...args)
    }
  }
}

interface ValidOptions {
  client: Redis | Cluster | undefined
  url: string | undefined
  prefix: string
  connectTimeout: number
}

function validate (options: RedisStoreOptions): ValidOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidOption('options', options, 'must be an object with a client or a url')
  }
  const { client, url, prefix = DEFAULT_PREFIX, connectTimeout = DEFAULT_CONNECT_TIMEOUT } = options
  if (client !== undefined && url !== undefined) {
    throw invalidOption('url', redactUrl(String(url)), 'give either client or url, not both')
  }
  if (client !== undefined && !isRedisClient(client)) {
    throw invalidOption('client', client, 'must be an ioredis Redis or Cluster instance')
  }
  if (client === undefined && !isRedisUrl(url)) {
    throw invalidOption('url', typeof url === 'string' ? redactUrl(url) : url, 'must be a redis:// or rediss:// URL (or give a client)')
  }
  if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix)) {
    // Braces would break the hash tag that keeps every key in one Cluster slot.
    throw invalidOption('prefix', prefix, 'must be a non-empty string without { or }')
  }
  if (typeof connectTimeout !== 'number' || !Number.isFinite(connectTimeout) || connectTimeout <= 0) {
    throw invalidOption('connectTimeout', connectTimeout, 'must be a positive number of milliseconds')
  }
  return { client, url, prefix, connectTimeout }
}

function isRedisClient (value: unknown): value is Redis | Cluster {
  const candidate = value as Record<string, unknown> | null
  return typeof candidate === 'object' && candidate !== null &&
    typeof candidate.evalsha === 'function' && typeof candidate.duplicate === 'function' && typeof candidate.isCluster === 'boolean'
}

function isRedisUrl (value: unknown): value is string {
  if (typeof value !== 'string') return false
  try {
    const protocol = new URL(value).protocol
    return protocol === 'redis:' || protocol === 'rediss:'
  } catch {
    return false
  }
}

/** A URL for messages: the credentials masked. */
function redactUrl (url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}

/** `redis://host:port/db` (no credentials) for a client, its startup nodes for a Cluster. */
function addressOf (client: Redis | Cluster): string {
  if (client.isCluster) {
    // The nodes the Cluster was created with: not public, but the only place they are.
    const nodes = (client as unknown as { startupNodes: ClusterNode[] }).startupNodes
    return `redis-cluster://${nodes.map(nodeAddress).join(',')}`
  }
  // ioredis fills host, port and db in (defaults included).
  const { host, port, db, path, tls } = (client as Redis).options as { host: string, port: number, db: number, path?: string, tls?: unknown }
  if (typeof path === 'string') return `redis+unix://${path}?db=${db}`
  const hostPart = host.includes(':') ? `[${host}]` : host
  return `${tls === undefined ? 'redis' : 'rediss'}://${hostPart}:${port}/${db}`
}

function nodeAddress (node: ClusterNode): string {
  if (typeof node === 'object') return `${node.host ?? 'localhost'}:${node.port ?? 6379}`
  if (typeof node === 'number') return `localhost:${node}`
  return redactUrl(node)
}

/** A second connection like `client`, not yet connecting. */
function lazyDuplicate (client: Redis | Cluster): Redis | Cluster {
  return client.isCluster
    ? (client as Cluster).duplicate([], { lazyConnect: true })
    : (client as Redis).duplicate({ lazyConnect: true })
}

/**
 * Closes a connection of ours, never failing: a QUIT when it is up (pending
 * replies arrive first), then disconnect(), which also stops reconnecting. The
 * QUIT may fail when the connection is dropping, or closing already (a second
 * close()): there is nothing left to close gracefully then.
 */
async function release (client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') await Promise.allSettled([client.quit()])
  client.disconnect()
}

async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function toClaimOutcome (outcome: number | string, now: number): ClaimOutcome {
  if (typeof outcome === 'number') return { status: 'run', fence: outcome }
  if (outcome === 'early') return { status: 'early', now }
  return { status: outcome } as ClaimOutcome
}

/** The end's part of a StoredRun, as JSON object members (the script adds runId, scheduledAt and instanceId). */
function endMembers (end: RunEnd): string {
  const { startedAt, finishedAt, durationMs, status, error } = end
  return JSON.stringify({ startedAt, finishedAt, durationMs, status, error }).slice(1, -1)
}

/** A job as a script returns it: the VIEW_FIELDS values, then the live run count. */
function toStoredJob (row: unknown[]): StoredJob {
  const [id, hash, definition, paused, anchorAt, version, watermark, runs, successes, failures, missed, skipped, lastRun, running] =
    row as [string, string, string, string, string, string, string | null, string, string, string, string, string, string | null, number]
  return {
    id,
    hash,
    definition: JSON.parse(definition),
    paused: paused === '1',
    anchorAt: Number(anchorAt),
    version: Number(version),
    watermark: watermark === null ? null : Number(watermark),
    stats: { runs: Number(runs), successes: Number(successes), failures: Number(failures), missed: Number(missed), skipped: Number(skipped) },
    lastRun: lastRun === null ? null : JSON.parse(lastRun) as StoredRun,
    running
  }
}
