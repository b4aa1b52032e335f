/**
 * Starts each example of examples/ as its own process, the way `npm run example`
 * does (compiled to JavaScript, then `node example.js`; PORT=0: any free port),
 * reads the address it prints, and checks that it answers.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import ts from 'typescript'
import { databaseUrl, pgReachable, redisReachable, redisUrl, requireService } from './helpers/services.js'

// `npx tsc -p tsconfig.json` type-checks the examples (as user code: their
// 'fastify-scheduler' is dist/, through the package's exports). Here they are
// only transpiled, as tsc emits them for `npm run example` (tsconfig.json's
// target, ES modules), which takes milliseconds where a TypeScript loader in
// each child would take seconds. The directory is inside the package, so
// 'fastify-scheduler' resolves to the package itself, as from .examples/.
const dir = t.testdir()
const compiled = new Map<string, string>()
function compile (name: string): string {
  let out = compiled.get(name)
  if (out === undefined) {
    const file = new URL(`../examples/${name}.ts`, import.meta.url)
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: `${name}.ts`,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext }
    })
    out = join(dir, `${name}.js`)
    writeFileSync(out, outputText)
    compiled.set(name, out)
  }
  return out
}

// tap's process tracking reaches every child (it hooks spawn); this turns its
// coverage off there. The examples are user code, not code measured here.
const baseEnv: NodeJS.ProcessEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }
delete baseEnv.NODE_V8_COVERAGE
delete baseEnv.JOBS_TOKEN
delete baseEnv.SHUTDOWN_TIMEOUT

/** How long an example may take to print its address (several start side by side). */
const START_TIMEOUT = 15_000

interface Exit { code: number | null, signal: NodeJS.Signals | null }

interface Running {
  child: ChildProcess
  /** `http://127.0.0.1:port`, from the line the example prints. */
  url: string
  /** Everything printed so far. */
  output: () => string
  exited: Promise<Exit>
}

const children = new Set<ChildProcess>()
t.teardown(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function spawnExample (name: string, env: NodeJS.ProcessEnv = {}): { child: ChildProcess, output: () => string, exited: Promise<Exit> } {
  const child = spawn(process.execPath, [compile(name)], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return { child, output: () => output, exited }
}

/** Spawns an example and resolves once it has printed where it listens (a plain line naming `…/jobs`). */
async function start (name: string, env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const { child, output, exited } = spawnExample(name, env)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no address printed within ${START_TIMEOUT} ms:\n${output()}`)), START_TIMEOUT)
    const look = (): void => {
      const match = /^(?!\{).*?(http:\/\/[^/\s]+)\/jobs/m.exec(output())
      if (match === null) return
      clearTimeout(timer)
      child.stdout?.off('data', look)
      resolve(match[1])
    }
    child.stdout?.on('data', look)
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${output()}`))
    }, reject)
  })
  return { child, url, output, exited }
}

/** Polls `probe` until it returns something other than undefined, or fails after `timeout` ms. */
async function until<T> (what: string, probe: () => Promise<T | undefined>, timeout = 5_000): Promise<T> {
  const deadline = Date.now() + timeout
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(25)
  }
}

interface JobStatusBody { id: string, running: number, lastRun: { status: string } | null }

async function getJson<T> (url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: T }> {
  const response = await fetch(url, { headers })
  return { status: response.status, body: await response.json() as T }
}

/** Polls GET {url}/jobs/{id} until its last run is a success. */
async function ranOnce (url: string, id: string, headers: Record<string, string> = {}): Promise<JobStatusBody> {
  return await until(`a successful run of ${id}`, async () => {
    const { body } = await getJson<JobStatusBody>(`${url}/jobs/${encodeURIComponent(id)}`, headers)
    return body.lastRun?.status === 'success' ? body : undefined
  })
}

// All start side by side.
const started = {
  basic: start('basic'),
  decorators: start('decorators'),
  protectedRoutes: start('protected-routes', { JOBS_TOKEN: 's3cret' }),
  protectedNoToken: spawnExample('protected-routes'),
  gracefulShutdown: start('graceful-shutdown', { SHUTDOWN_TIMEOUT: '500' })
}
// Awaited in the tests below; until then a failure to start must not count as unhandled.
for (const promise of Object.values(started)) if (promise instanceof Promise) promise.catch(() => {})

async function stop (example: Running): Promise<void> {
  example.child.kill('SIGTERM')
  await example.exited
}

t.test('basic.ts: an interval, two cron and a date job, and GET /jobs', async (t) => {
  const example = await started.basic
  t.teardown(async () => await stop(example))
  t.match(example.output(), `open ${example.url}/jobs`, 'prints where to look')

  const { status, body } = await getJson<{ state: string, jobs: JobStatusBody[] }>(`${example.url}/jobs`)
  t.equal(status, 200)
  t.equal(body.state, 'running')
  t.same(body.jobs.map((job) => job.id).sort(), ['cache-sweep', 'heartbeat', 'weekday-report', 'welcome'])
  t.match(body.jobs.find((job) => job.id === 'weekday-report'), {
    name: 'Weekday report',
    trigger: { type: 'cron', expression: '0 6 * * 1-5', timezone: 'Europe/Berlin' }
  })
  t.match(body.jobs.find((job) => job.id === 'welcome'), { trigger: { type: 'date' } })

  await ranOnce(example.url, 'heartbeat')
  t.pass('the immediate interval job ran')
  t.equal((await fetch(`${example.url}/jobs/heartbeat/run`, { method: 'POST' })).status, 404, 'no actions without actions: true')
})

t.test('decorators.ts: a class with @Interval, @Cron and @At in jobs: [...]', async (t) => {
  const example = await started.decorators
  t.teardown(async () => await stop(example))

  const { status, body } = await getJson<{ jobs: JobStatusBody[] }>(`${example.url}/jobs`)
  t.equal(status, 200)
  t.same(body.jobs.map((job) => job.id).sort(), ['Maintenance.heartbeat', 'vacuum', 'warm-up'])
  t.match(body.jobs.find((job) => job.id === 'vacuum'), { trigger: { type: 'cron', expression: '0 3 * * *', timezone: 'UTC' } })

  // The method reads `this.startedAt`: a success means `this` is the object.
  await ranOnce(example.url, 'Maintenance.heartbeat')
  t.pass('the decorated method ran with this bound to its object')
})

t.test('protected-routes.ts: a bearer token in front of the routes, actions on', async (t) => {
  const example = await started.protectedRoutes
  t.teardown(async () => await stop(example))
  const auth = { authorization: 'Bearer s3cret' }

  const anonymous = await fetch(`${example.url}/jobs`)
  t.equal(anonymous.status, 401, 'no token: 401')
  t.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="jobs"')
  t.same(await anonymous.json(), { statusCode: 401, error: 'Unauthorized', message: 'A valid bearer token is required' })
  t.equal((await fetch(`${example.url}/jobs`, { headers: { authorization: 'Bearer wrong' } })).status, 401, 'a wrong token: 401')
  t.equal((await fetch(`${example.url}/jobs/reindex/run`, { method: 'POST' })).status, 401, 'the actions need it too')

  const { status, body } = await getJson<{ jobs: JobStatusBody[] }>(`${example.url}/jobs`, auth)
  t.equal(status, 200, 'with the token: 200')
  t.same(body.jobs.map((job) => job.id).sort(), ['reindex', 'sync-prices'])

  const run = await fetch(`${example.url}/jobs/reindex/run`, { method: 'POST', headers: auth })
  t.equal(run.status, 202)
  t.match(await run.json(), { runId: String })
  await ranOnce(example.url, 'reindex', auth)
  t.pass('POST /jobs/reindex/run ran the job')

  t.equal((await fetch(`${example.url}/health`)).status, 200, 'the rest of the app is open')
})

t.test('protected-routes.ts without JOBS_TOKEN refuses to start', async (t) => {
  const { output, exited } = started.protectedNoToken
  t.same(await exited, { code: 1, signal: null })
  t.match(output(), 'Set JOBS_TOKEN')
})

t.test('graceful-shutdown.ts: SIGTERM while the long job runs drains, aborts at shutdownTimeout, exits 0', async (t) => {
  const example = await started.gracefulShutdown
  await until('the import to be running', async () => {
    const { body } = await getJson<JobStatusBody>(`${example.url}/jobs/import`)
    return body.running === 1 ? true : undefined
  })

  const signalledAt = Date.now()
  example.child.kill('SIGTERM')
  const exit = await Promise.race([example.exited, delay(10_000, 'still running' as const)])
  const closeMs = Date.now() - signalledAt
  t.same(exit, { code: 0, signal: null }, 'exits with 0 by itself')
  t.ok(closeMs >= 450, `waited for shutdownTimeout (500 ms) before aborting: ${closeMs} ms`)
  t.ok(closeMs < 5_000, `and not much longer: ${closeMs} ms`)

  const closed = example.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string })
  t.match(closed.find((entry) => entry.msg === 'closing: no new runs; waiting for the running ones'), { signal: 'SIGTERM' })
  t.match(closed.find((entry) => entry.msg === 'closed'), {
    lastRun: { status: 'aborted', error: { name: 'AbortError', message: 'Job "import" was aborted at shutdown' } }
  })
})

for (const [name, service, reachable, url] of [
  ['cluster-postgres', 'PostgreSQL', pgReachable, { DATABASE_URL: databaseUrl() }],
  ['cluster-redis', 'Redis', redisReachable, { REDIS_URL: redisUrl() }]
] as const) {
  t.test(`${name}.ts: two servers on one store, one fleet on /jobs`, async (t) => {
    const address = Object.values(url)[0]
    if (!await requireService(t, service, async () => await reachable(address), `start ${service} or set ${Object.keys(url)[0]}`)) return
    const [first, second] = await Promise.all([start(name, { ...url, INSTANCE: 'one' }), start(name, { ...url, INSTANCE: 'two' })])
    t.teardown(async () => { await Promise.all([stop(first), stop(second)]) })
    const { status, body } = await getJson<{ jobs: JobStatusBody[], instances: Array<{ id: string }> }>(`${first.url}/jobs`)
    t.equal(status, 200)
    t.same(body.jobs.map((job) => job.id).sort(), ['nightly-report', 'tick'])
    const ids = body.instances.map((instance) => instance.id)
    t.ok(ids.some((id) => id.startsWith('one-')) && ids.some((id) => id.startsWith('two-')), `both servers are in the fleet (${ids.join(', ')})`)
  })
}
