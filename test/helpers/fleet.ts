/**
 * A fleet of real server processes (test/fixtures/fleet-server.ts) on one
 * shared store, for the multi-process tests: start, signal and stop them,
 * count their runs in PostgreSQL, and cut the store off through a TCP proxy.
 * These tests run in real time (the processes fire every second); they wait
 * on conditions, each with a deadline, never on fixed sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import pg from 'pg'
import ts from 'typescript'
import type { Test } from 'tap'

/**
 * The server, transpiled to JavaScript once per test process (a TypeScript
 * loader in each child costs seconds), into a directory inside the package so
 * that its 'fastify-scheduler' imports resolve to the package's dist/.
 */
let compiled: string | undefined
function serverScript (): string {
  if (compiled === undefined) {
    const source = fileURLToPath(new URL('../fixtures/fleet-server.ts', import.meta.url))
    const dir = fileURLToPath(new URL(`../../.tap/fleet-${process.pid}/`, import.meta.url))
    mkdirSync(dir, { recursive: true })
    const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
      fileName: 'fleet-server.ts',
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext }
    })
    compiled = `${dir}fleet-server.js`
    writeFileSync(compiled, outputText)
  }
  return compiled
}

export interface Worker {
  readonly id: string
  readonly child: ChildProcess
  /** `http://127.0.0.1:port` */
  readonly url: string
  output: () => string
  /** The JSON log lines printed so far. */
  logs: () => Array<Record<string, unknown>>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export interface Fleet {
  /** A name unique to this test: the store's prefix is `${name}_`, the count table `${name}_counted`. */
  readonly name: string
  readonly table: string
  readonly db: pg.Pool
  start: (id: string, env?: NodeJS.ProcessEnv) => Promise<Worker>
  /** Runs recorded per (job, fire): `{ job_id, scheduled_at, runs }` for fires in [from, to). */
  runsPerFire: (from?: number, to?: number) => Promise<Array<{ job_id: string, scheduled_at: number, runs: number }>>
  /** Resolves once `check()` is true, polling every 100 ms; rejects after `ms` with `what`. */
  until: (what: string, check: () => Promise<boolean> | boolean, ms?: number) => Promise<void>
  /** PostgreSQL's clock, epoch ms. */
  dbNow: () => Promise<number>
}

/**
 * Sets up a fleet for one test: a count table in PostgreSQL (dropped at the
 * end), children killed at teardown. `base` is every worker's environment.
 */
export async function fleet (t: Test, databaseUrl: string, base: NodeJS.ProcessEnv, dropStore: (prefix: string) => Promise<void>): Promise<Fleet> {
  const name = `fleet_${randomBytes(4).toString('hex')}`
  const prefix = `${name}_`
  const table = `${name}_counted`
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 })
  db.on('error', () => {})
  await db.query(`CREATE TABLE ${table} (job_id text NOT NULL, scheduled_at bigint NOT NULL, instance_id text NOT NULL, run_id text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`)
  const workers: Worker[] = []
  t.teardown(async () => {
    if (!t.passing()) {
      // What the workers said, to tell why: their warnings and errors, the last few of each.
      for (const worker of workers) {
        const lines = worker.logs().filter((line) => typeof line.level === 'number' && line.level >= 40).slice(-8)
        t.comment(`${worker.id}: ${lines.map((line) => JSON.stringify({ ...line, err: undefined, hostname: undefined, pid: undefined })).join('\n  ')}`)
      }
    }
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        worker.child.kill('SIGCONT')
        worker.child.kill('SIGKILL')
      }
    }
    await Promise.all(workers.map(async (worker) => await worker.exited))
    await db.query(`DROP TABLE IF EXISTS ${table}`)
    await db.end()
    await dropStore(prefix)
  })

  async function start (id: string, env: NodeJS.ProcessEnv = {}): Promise<Worker> {
    const child = spawn(process.execPath, [serverScript()], {
      // tap follows children; its coverage is off there (the package is measured by its own tests).
      env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', DATABASE_URL: databaseUrl, COUNT_TABLE: table, PREFIX: prefix, INSTANCE: id, ...base, ...env },
      // stdin stays open: the child exits when it closes, so no worker outlives a killed test.
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }))
    })
    const logs = (): Array<Record<string, unknown>> => output.split('\n').filter((line) => line.startsWith('{')).map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>
      } catch {
        return {}
      }
    })
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${id} did not start within 20 s:\n${output}`)), 20_000)
      const look = (): void => {
        const ready = logs().find((line) => typeof line.ready === 'string')
        if (ready !== undefined) {
          clearTimeout(timer)
          resolve(ready.ready as string)
        }
      }
      child.stdout?.on('data', look)
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`worker ${id} exited (${String(code ?? signal)}) before it was ready:\n${output}`))
      })
    })
    const worker: Worker = { id, child, url, output: () => output, logs, exited }
    workers.push(worker)
    return worker
  }

  async function runsPerFire (from = 0, to = Number.MAX_SAFE_INTEGER): Promise<Array<{ job_id: string, scheduled_at: number, runs: number }>> {
    const { rows } = await db.query<{ job_id: string, scheduled_at: string, runs: string }>(
      `SELECT job_id, scheduled_at, count(*) AS runs FROM ${table} WHERE scheduled_at >= $1 AND scheduled_at < $2 GROUP BY 1, 2 ORDER BY 2, 1`, [from, to])
    return rows.map((row) => ({ job_id: row.job_id, scheduled_at: Number(row.scheduled_at), runs: Number(row.runs) }))
  }

  async function until (what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms
    for (;;) {
      if (await check()) return
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  async function dbNow (): Promise<number> {
    const { rows } = await db.query<{ now: string }>('SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now')
    return Number(rows[0].now)
  }

  return { name, table, db, start, runsPerFire, until, dbNow }
}

/**
 * Checks every fire of `jobs` jobs firing every second in [from, to): each ran
 * exactly once in the fleet. Returns the problems (empty when all is well).
 */
export function exactlyOnce (rows: Array<{ job_id: string, scheduled_at: number, runs: number }>, jobs: number, from: number, to: number): string[] {
  const seen = new Map<string, number>()
  for (const row of rows) seen.set(`${row.job_id}@${row.scheduled_at}`, row.runs)
  const problems: string[] = []
  for (let at = Math.ceil(from / 1000) * 1000; at < to; at += 1000) {
    for (let j = 0; j < jobs; j++) {
      const runs = seen.get(`job-${j}@${at}`) ?? 0
      if (runs !== 1) problems.push(`job-${j} at ${new Date(at).toISOString()}: ${runs} runs`)
    }
  }
  return problems
}

/** A TCP proxy in front of a store, which a test can cut off (an outage) and restore; it counts what clients send. */
export interface Proxy {
  readonly port: number
  /** Chunks clients have sent through it (a proxy for requests). */
  readonly sent: number
  /** Drops every connection and refuses new ones until `restore()`. */
  cut: () => void
  restore: () => void
  close: () => Promise<void>
}

export async function proxy (targetHost: string, targetPort: number): Promise<Proxy> {
  const sockets = new Set<Socket>()
  let open = true
  let sent = 0
  const listener: Server = createServer((client) => {
    if (!open) {
      client.destroy()
      return
    }
    const upstream = connect(targetPort, targetHost)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => {
        sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', () => { sent++ })
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const port = (listener.address() as { port: number }).port
  return {
    port,
    get sent () { return sent },
    cut () {
      open = false
      for (const socket of sockets) socket.destroy()
    },
    restore () { open = true },
    async close () {
      open = false
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    }
  }
}
