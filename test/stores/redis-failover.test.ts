/**
 * The Redis store across a failover, as the README states it: Redis replicates
 * asynchronously, so a claim that a primary acknowledged and replicated stays
 * won on the promoted replica, but one it acknowledged and had not replicated
 * when it died can be won again: at-least-once, never lost.
 *
 * The test starts a primary and a replica of its own (redis-server on free
 * ports, nothing kept on disk), the replica following the primary through a
 * TCP proxy the test can cut: a replication link that is down when the
 * primary dies is the window where acknowledged claims are lost. It waits on
 * the servers (their answers, Redis WAIT), never on the clock.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { DEFAULT_JOB_OPTIONS } from '../../lib/job.js'
import { redisStore } from '../../lib/stores/redis.js'
import type { Claim, Store } from '../../lib/stores/store.js'
import { proxy } from '../helpers/fleet.js'
import { requireService } from '../helpers/services.js'

const LATER = 60_000

/** A port nothing listens on now. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

/** A redis-server of the test's own, and a client to it that waits for it to answer. */
async function startRedis (t: Test, args: string[]): Promise<{ process: ChildProcess, url: string, admin: Redis }> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fst-redis-'))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  // ioredis retries the connection and queues commands until the server listens.
  const admin = new Redis(url, { retryStrategy: (times) => times > 200 ? null : 25 })
  admin.on('error', () => {})
  t.teardown(() => {
    admin.disconnect()
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  await admin.ping()
  return { process: child, url, admin }
}

function fire (jobId: string, scheduledAt: number): Claim {
  return { jobId, kind: 'fire', scheduledAt, missed: 0, maxInstances: 5, runId: `run-${scheduledAt}`, version: 1 }
}

t.test('a failover: replicated claims stay won, a claim the dead primary had not replicated is won again (at-least-once)', async (t) => {
  const installed = await requireService(t, 'Redis', async () => {
    const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
    if (version.status !== 0) throw new Error(`redis-server --version: ${version.error?.message ?? version.stderr}`)
  }, 'install redis-server: this test starts a primary and a replica of its own')
  if (!installed) return
  // A full sync at once when the replica connects (by default a diskless sync waits 5 s for more replicas).
  const primary = await startRedis(t, ['--repl-diskless-sync-delay', '0'])
  const link = await proxy('127.0.0.1', Number(new URL(primary.url).port))
  t.teardown(async () => { await link.close() })
  const replica = await startRedis(t, ['--replicaof', '127.0.0.1', String(link.port)])
  const stores: Store[] = []
  t.teardown(async () => { await Promise.all(stores.map(async (store) => { await store.close() })) })
  const open = async (url: string): Promise<Store> => {
    const store = redisStore({ url, prefix: 'failover' })
    stores.push(store)
    await store.connect()
    return store
  }
  /**
   * Until the replica has everything the primary acknowledged so far (bounded: the replica may
   * still be syncing). WAIT counts up to the calling connection's own last write, so that
   * connection writes once first: the replication stream keeps the store's writes before it.
   */
  const replicated = async (): Promise<void> => {
    await primary.admin.set('failover-test:mark', 'x')
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await primary.admin.wait(1, 200) === 1) return
    }
    t.fail('the replica never caught up')
  }

  const before = await open(primary.url)
  await before.reconcile('a', [{ id: 'job', hash: 'h', paused: false, definition: { name: 'job', trigger: { interval: 1000 }, zone: 'UTC', options: { ...DEFAULT_JOB_OPTIONS } } }])
  const now = await before.now()
  const [first, second, third] = [now - 3000, now - 2000, now - 1000]
  t.equal((await before.claim('a', [fire('job', first)], LATER))[0].status, 'run', 'the first fire, won on the primary')
  await replicated()
  link.cut()
  t.equal((await before.claim('a', [fire('job', second)], LATER))[0].status, 'run', 'the second, won on the primary while its replica is cut off')

  // The primary dies; the replica is promoted (what Sentinel or an operator does).
  primary.process.kill('SIGKILL')
  await replica.admin.replicaof('NO', 'ONE')
  const after = await open(replica.url)
  t.same((await after.readJobs(['job'])).map((job) => job.id), ['job'], 'the job is on the promoted replica')
  t.same(await after.claim('b', [fire('job', first)], LATER), [{ status: 'taken' }], 'a claim replicated before the failover stays won: not run again')
  t.equal((await after.claim('b', [fire('job', second)], LATER))[0].status, 'run', 'a claim the primary acknowledged but had not replicated is won again: that fire runs twice')
  t.equal((await after.claim('b', [fire('job', third)], LATER))[0].status, 'run', 'and firing goes on: no fire is lost')
})
