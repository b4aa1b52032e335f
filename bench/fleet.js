// Several schedulers, one store: fires claimed and run per second, exactly once.
//
//   node bench/fleet.js [--quick]                 (needs a built dist/, PostgreSQL and Redis)
//   node bench/fleet.js --child <store> <n> <windowS> <prefix>   (one instance alone)
//
// For each store (none: one instance in memory, the floor; postgres; redis) and
// each N (jobs firing every second, so N fires per second for the fleet), 3
// instances (child processes, the core Scheduler on the store, no HTTP) run for
// a window after a warm-up. Each instance marks every fire it ran (job, second)
// and records its lateness (run start − scheduled time, by the store-corrected
// clock); the parent adds the marks up: every fire of the window must have run
// exactly once in the fleet. Reported: fires run per second, p50/p99 lateness,
// fires not run (0) or run twice (2+), and the busiest instance's CPU.
// Anchors (issue 5): db-scheduler publishes 2,000 executions/s with 4 instances
// and its default fetch, 10,600/s with lock-and-fetch; target here >= 2,000
// fires/s exactly once with p99 lateness < 100 ms on this 2-core machine.
//
// DATABASE_URL / REDIS_URL say where the stores are (defaults: local ones).

import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { QUICK, percentile, printTable, report, sleep } from './common.js'

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const ROOT = new URL('../', import.meta.url)

const SETTINGS = QUICK
  ? { sizes: [2_000, 5_000], windowS: 4, warmupS: 3, instances: 3 }
  : { sizes: [1_000, 2_000, 5_000, 10_000], windowS: 10, warmupS: 4, instances: 3 }
// FLEET_SIZES=2000,10000 and FLEET_STORES=redis pick rows (for one store's numbers alone).
if (process.env.FLEET_SIZES) SETTINGS.sizes = process.env.FLEET_SIZES.split(',').map(Number)
// FLEET_INSTANCES=2 and FLEET_WINDOW=30 (seconds) change the fleet's size and the measured window.
if (process.env.FLEET_INSTANCES) SETTINGS.instances = Number(process.env.FLEET_INSTANCES)
if (process.env.FLEET_WINDOW) SETTINGS.windowS = Number(process.env.FLEET_WINDOW)
const STORES = process.env.FLEET_STORES ? process.env.FLEET_STORES.split(',') : ['none', 'postgres', 'redis']

// ---------------------------------------------------------------------------
// Child: one instance

async function child (storeKind, n, windowS, prefix) {
  const { Scheduler } = await import(new URL('dist/index.js', ROOT).href)
  let store
  if (storeKind === 'postgres') {
    const { postgresStore } = await import(new URL('dist/stores/postgres.js', ROOT).href)
    store = postgresStore({ connectionString: DATABASE_URL, tablePrefix: prefix })
  } else if (storeKind === 'redis') {
    const { redisStore } = await import(new URL('dist/stores/redis.js', ROOT).href)
    store = redisStore({ url: REDIS_URL, prefix })
  }
  const scheduler = new Scheduler({ timezone: 'UTC', ...(store ? { store, leaseTime: 10_000, pollInterval: 5_000 } : {}) })
  let first = Number.NaN
  const ran = new Uint8Array(n * windowS)
  const lateness = []
  let cpuStart = null
  const handler = (ctx) => {
    const at = ctx.scheduledAt.getTime()
    if (Number.isNaN(first)) return
    const slot = (at - first) / 1000
    if (slot < 0 || slot >= windowS) return
    lateness.push(ctx.startedAt.getTime() - at)
    ran[ctx.data * windowS + slot]++
  }
  for (let i = 0; i < n; i++) {
    // coalesce: false, so a late wake still runs every fire (and the count sees it).
    scheduler.addJob({ id: `job-${i}`, trigger: { cron: '* * * * * *', timezone: 'UTC' }, data: i, coalesce: false, maxInstances: 5, handler })
  }
  await scheduler.start()
  process.on('message', async (message) => {
    if (message.type === 'window') {
      first = message.first
      cpuStart = process.cpuUsage()
    } else if (message.type === 'stop') {
      const cpu = process.cpuUsage(cpuStart)
      await scheduler.shutdown()
      lateness.sort((a, b) => a - b)
      report({ stage: 'done', ran: Buffer.from(ran).toString('base64'), runs: lateness.length, p50: percentile(lateness, 0.5), p99: percentile(lateness, 0.99), cpuMs: (cpu.user + cpu.system) / 1000 })
      process.exit(0)
    }
  })
  report({ stage: 'ready' })
}

// ---------------------------------------------------------------------------
// Parent

async function cleanup (storeKind, prefix) {
  if (storeKind === 'postgres') {
    const { default: pg } = await import('pg')
    const client = new pg.Client({ connectionString: DATABASE_URL })
    await client.connect()
    const { rows } = await client.query(`
      SELECT format('DROP TABLE IF EXISTS %I CASCADE', tablename) AS s FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)
      UNION ALL SELECT format('DROP SEQUENCE IF EXISTS %I CASCADE', sequencename) FROM pg_sequences WHERE schemaname = 'public' AND starts_with(sequencename, $1)
      UNION ALL SELECT format('DROP FUNCTION IF EXISTS %s CASCADE', p.oid::regprocedure) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND starts_with(p.proname, $1)`, [prefix])
    for (const { s } of rows) await client.query(s)
    await client.end()
  } else if (storeKind === 'redis') {
    const { Redis } = await import('ioredis')
    const client = new Redis(REDIS_URL)
    const keys = await client.keys(`{${prefix}}*`)
    if (keys.length > 0) await client.del(...keys)
    client.disconnect()
  }
}

async function runFleet (storeKind, n) {
  const prefix = `bench_${randomBytes(3).toString('hex')}_`
  const count = storeKind === 'none' ? 1 : SETTINGS.instances
  const file = fileURLToPath(import.meta.url)
  const children = []
  const reports = new Map()
  const waiters = new Map()
  const next = (proc, stage) => new Promise((resolve, reject) => {
    const got = reports.get(proc)?.find((r) => r.stage === stage)
    if (got) return resolve(got)
    waiters.set(proc, { stage, resolve })
    proc.once('exit', (code) => reject(new Error(`instance exited (${code}) before "${stage}"`)))
  })
  try {
    for (let i = 0; i < count; i++) {
      const proc = fork(file, ['--child', storeKind, String(n), String(SETTINGS.windowS), prefix], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      reports.set(proc, [])
      proc.on('message', (message) => {
        reports.get(proc).push(message)
        const waiter = waiters.get(proc)
        if (waiter && waiter.stage === message.stage) {
          waiters.delete(proc)
          waiter.resolve(message)
        }
      })
      children.push(proc)
    }
    await Promise.all(children.map((proc) => next(proc, 'ready')))
    await sleep(SETTINGS.warmupS * 1000)
    // The window: whole seconds starting a second from now.
    const first = Math.ceil(Date.now() / 1000) * 1000 + 1000
    for (const proc of children) proc.send({ type: 'window', first })
    await sleep(first + SETTINGS.windowS * 1000 - Date.now() + 1500)
    const done = await Promise.all(children.map((proc) => { proc.send({ type: 'stop' }); return next(proc, 'done') }))
    const total = new Uint16Array(n * SETTINGS.windowS)
    for (const d of done) {
      const ran = Buffer.from(d.ran, 'base64')
      for (let i = 0; i < total.length; i++) total[i] += ran[i]
    }
    let missing = 0
    let doubled = 0
    for (const v of total) {
      if (v === 0) missing++
      else if (v > 1) doubled++
    }
    const runs = done.reduce((sum, d) => sum + d.runs, 0)
    // Combined percentiles: weighted by each instance's runs (close enough for a report: the per-instance p99s are shown too).
    const p99s = done.map((d) => d.p99 ?? 0)
    const p50s = done.map((d) => d.p50 ?? 0)
    return {
      store: storeKind,
      n,
      instances: count,
      firesPerS: runs / SETTINGS.windowS,
      p50: Math.max(...p50s),
      p99: Math.max(...p99s),
      missing,
      doubled,
      share: done.map((d) => d.runs).join('/'),
      cpu: Math.max(...done.map((d) => d.cpuMs)) / (SETTINGS.windowS * 10)
    }
  } finally {
    for (const proc of children) if (proc.exitCode === null) proc.kill('SIGKILL')
    await cleanup(storeKind, prefix).catch(() => {})
  }
}

async function main () {
  console.log(`${SETTINGS.instances} instances per store (1 without a store), N jobs every second, ${SETTINGS.windowS} s window after ${SETTINGS.warmupS} s warm-up${QUICK ? ' (quick)' : ''}`)
  const rows = []
  for (const n of SETTINGS.sizes) {
    for (const storeKind of STORES) {
      try {
        const r = await runFleet(storeKind, n)
        rows.push([storeKind === 'none' ? 'memory (1 instance)' : storeKind, String(n), r.firesPerS.toFixed(0), `${r.p50}`, `${r.p99}`, String(r.missing), String(r.doubled), r.share, `${r.cpu.toFixed(0)}%`,
          r.missing === 0 && r.doubled === 0 && r.p99 < 100 ? 'yes' : 'no'])
      } catch (err) {
        rows.push([storeKind, String(n), 'failed', '', '', '', '', '', '', String(err.message).slice(0, 60)])
      }
    }
  }
  printTable(['store', 'N', 'fires/s', 'p50 ms', 'p99 ms', 'not run', 'run 2+', 'runs per instance', 'max CPU', 'exactly once, p99<100'], rows, ['l'])
}

const i = process.argv.indexOf('--child')
if (i >= 0) {
  const [storeKind, n, windowS, prefix] = process.argv.slice(i + 1)
  await child(storeKind, Number(n), Number(windowS), prefix)
} else {
  await main()
}
