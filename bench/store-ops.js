// The shared stores' operations at volume: ms per call for N jobs, PostgreSQL and Redis.
//
//   npm run build && node bench/store-ops.js [--runs R] [N ...]   (default: 3 runs, N = 1000 10000)
//
// A run does every operation once, in order, on a fresh namespace of its own (a
// PostgreSQL schema, a Redis key prefix), dropped at its end; the table shows
// each operation's median over the runs (one operation, one call: the first
// call of its kind on its connection, as a booting instance's). Servers:
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and REDIS_URL
// (default redis://127.0.0.1:6379); a store whose server is not reachable is left out.

import { randomBytes, randomUUID } from 'node:crypto'
import pg from 'pg'
import { Redis } from 'ioredis'
import { QUICK, printTable } from './common.js'
import { postgresStore } from '../dist/stores/postgres.js'
import { redisStore } from '../dist/stores/redis.js'

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const args = process.argv.slice(2)
const runsAt = args.indexOf('--runs')
const RUNS = runsAt === -1 ? (QUICK ? 1 : 3) : Number(args.splice(runsAt, 2)[1])
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs takes a whole number of runs, 1 or more')
const SIZES = args.filter((arg) => !arg.startsWith('-')).map(Number).filter((n) => Number.isInteger(n) && n > 0)
const COUNTS = SIZES.length > 0 ? SIZES : [1000, 10_000]
const LATER = 60_000

const OPERATIONS = [
  ['connect', 'connect() on a fresh namespace'],
  ['reconcile new', 'reconcile of N new jobs'],
  ['reconcile same', 'reconcile of the same N jobs again'],
  ['reconcile changed', 'reconcile of N redefined jobs'],
  ['readJobs', 'readJobs of N ids'],
  ['claim', 'claim of N due fires (one per job)'],
  ['claim taken', 'the same N claims again (all taken)'],
  ['heartbeat', 'heartbeat renewing N fences'],
  ['finish', 'finish of N runs'],
  ['sweep', 'sweep of N expired runs']
]

function definitionOf (id, version) {
  return {
    name: id,
    trigger: { interval: 60_000, version },
    zone: 'UTC',
    options: { maxInstances: 1, misfireGraceTime: null, overlap: 'skip', onLost: 'mark', timeout: null }
  }
}

function declared (ids, version) {
  return ids.map((id) => ({ id, hash: `${id}-${version}`, definition: definitionOf(id, version), paused: false }))
}

// The jobs' version when they are claimed: 2, after 'reconcile changed' redefined them.
const CLAIMED_VERSION = 2

function fires (ids, scheduledAt) {
  return ids.map((jobId) => ({ jobId, kind: 'fire', scheduledAt, missed: 0, maxInstances: 1, runId: randomUUID(), version: CLAIMED_VERSION }))
}

function ends (ids, fences, at) {
  return ids.map((jobId, i) => ({ fence: fences[i], jobId, status: 'success', startedAt: at - 5, finishedAt: at, durationMs: 5, error: null }))
}

async function timed (times, name, run) {
  const start = process.hrtime.bigint()
  const result = await run()
  times[name] = Number(process.hrtime.bigint() - start) / 1e6
  return result
}

function check (condition, what) {
  if (!condition) throw new Error(`unexpected result: ${what}`)
}

/** Runs every operation once on a fresh store for `n` jobs; returns ms per operation. */
async function measure (store, n) {
  const times = {}
  const ids = Array.from({ length: n }, (_, i) => `job-${String(i).padStart(6, '0')}`)
  await timed(times, 'connect', () => store.connect())
  check((await timed(times, 'reconcile new', () => store.reconcile('bench', declared(ids, 'a')))).length === n, 'reconcile')
  check((await timed(times, 'reconcile same', () => store.reconcile('bench', declared(ids, 'a')))).every((job) => job.version === 1), 'unchanged')
  check((await timed(times, 'reconcile changed', () => store.reconcile('bench', declared(ids, 'b')))).every((job) => job.version === 2), 'redefined')
  check((await timed(times, 'readJobs', () => store.readJobs(ids))).length === n, 'readJobs')
  const at = (await store.now()) - 1000
  const claimed = await timed(times, 'claim', () => store.claim('bench', fires(ids, at), LATER))
  check(claimed.every((outcome) => outcome.status === 'run'), 'claim')
  const taken = await timed(times, 'claim taken', () => store.claim('bench', fires(ids, at), LATER))
  check(taken.every((outcome) => outcome.status === 'taken'), 'taken')
  const fences = claimed.map((outcome) => outcome.fence)
  check((await timed(times, 'heartbeat', () => store.heartbeat('bench', fences, LATER))).lost.length === 0, 'heartbeat')
  const accepted = await timed(times, 'finish', async () => store.finish('bench', ends(ids, fences, await store.now())))
  check(accepted.every(Boolean), 'finish')
  // Runs with leases of 0 ms: expired at once, for the sweeper.
  check((await store.claim('bench', fires(ids, at + 500), 0)).every((outcome) => outcome.status === 'run'), 'claim to sweep')
  check((await timed(times, 'sweep', () => store.sweep())).length === n, 'sweep')
  return times
}

const stores = [
  {
    name: 'postgres',
    reachable: async () => {
      const client = new pg.Client({ connectionString: DATABASE_URL })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.end()
        return true
      } catch {
        return false
      }
    },
    open: () => {
      const schema = `bench_${randomBytes(4).toString('hex')}`
      return {
        store: postgresStore({ connectionString: DATABASE_URL, schema }),
        drop: async () => {
          const client = new pg.Client({ connectionString: DATABASE_URL })
          await client.connect()
          try {
            await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
          } finally {
            await client.end()
          }
        }
      }
    }
  },
  {
    name: 'redis',
    reachable: async () => {
      const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.ping()
        return true
      } catch {
        return false
      } finally {
        client.disconnect()
      }
    },
    open: () => {
      const prefix = `bench-${randomBytes(4).toString('hex')}`
      return {
        store: redisStore({ url: REDIS_URL, prefix }),
        drop: async () => {
          const client = new Redis(REDIS_URL)
          try {
            let cursor = '0'
            do {
              const [next, keys] = await client.scan(cursor, 'MATCH', `{${prefix}}*`, 'COUNT', 1000)
              if (keys.length > 0) await client.unlink(...keys)
              cursor = next
            } while (cursor !== '0')
          } finally {
            client.disconnect()
          }
        }
      }
    }
  }
]

function median (values) {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

const results = []
for (const { name, reachable, open } of stores) {
  if (!(await reachable())) {
    console.log(`${name}: not reachable, left out`)
    continue
  }
  for (const n of COUNTS) {
    const runs = []
    for (let run = 0; run < RUNS; run++) {
      const { store, drop } = open()
      try {
        runs.push(await measure(store, n))
      } finally {
        await store.close()
        await drop()
      }
    }
    const times = Object.fromEntries(OPERATIONS.map(([operation]) => [operation, median(runs.map((run) => run[operation]))]))
    results.push({ name, n, times })
  }
}

console.log(`median ms of ${RUNS} run${RUNS === 1 ? '' : 's'}, each on a fresh namespace\n`)

const columns = results.map(({ name, n }) => `${name} ${n.toLocaleString('en')}`)
printTable(
  ['ms per call', ...columns, ''],
  OPERATIONS.map(([operation, what]) => [operation, ...results.map(({ times }) => times[operation].toFixed(1)), what]),
  ['l', ...columns.map(() => 'r'), 'l']
)
