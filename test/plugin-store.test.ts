/**
 * The plugin on a shared store: two apps on one MemoryStore (a fleet in one
 * process, on one manual clock) show the fleet on /jobs, claim runs for
 * POST /run, and an unreachable store fails app.ready() with a coded error.
 */
import t from 'tap'
import type { JobStatus } from '../lib/job.js'
import { MemoryStore } from '../lib/stores/memory.js'
import { redisStore } from '../lib/stores/redis.js'
import { build, deferred } from './helpers/app.js'
import { ManualClock, flush } from './helpers/fake-clock.js'
import { END_BATCH_MS } from '../lib/cluster.js'

interface JobsBody { state: string, jobs: JobStatus[], instances: Array<{ id: string, heartbeatAt: string, startedAt: string }> }

const actions = { actions: true, allowUnauthenticatedActions: true }

t.test('an unreachable store fails app.ready() with FST_SCHEDULER_STORE_UNAVAILABLE naming the store and its address', async (t) => {
  const { app } = await build({ store: redisStore({ url: 'redis://:secret@127.0.0.1:1' }), jobs: [{ id: 'a', trigger: { interval: 1000 }, handler: () => {} }] })
  const failed = await app.ready().then(() => null, (err: Error & { code?: string }) => err)
  t.match(failed, {
    code: 'FST_SCHEDULER_STORE_UNAVAILABLE',
    message: /The redis store at redis:\/\/127\.0\.0\.1:1(\/0)? is unavailable/
  })
  t.notMatch(String(failed?.message), 'secret', 'no password in the message')
  t.equal(app.scheduler.state, 'stopped')
  await app.close()
})

t.test('two apps on one store: /jobs shows the fleet, each fire runs once, POST /run claims', async (t) => {
  const clock = new ManualClock('2026-01-05T00:00:00.000Z')
  const store = new MemoryStore({ clock })
  const runs: string[] = []
  const release = deferred()
  const make = async (instanceId: string) => await build({
    clock,
    store,
    instanceId,
    routes: actions,
    jobs: [
      { id: 'tick', trigger: { interval: 1000 }, handler: (ctx) => { runs.push(`${instanceId}@${ctx.scheduledAt.toISOString()}`) } },
      { id: 'long', trigger: { cron: '0 0 1 1 *' }, handler: async () => await release.promise }
    ]
  })
  const a = await make('a')
  const b = await make('b')
  await Promise.all([a.app.ready(), b.app.ready()])
  t.teardown(async () => {
    release.resolve()
    await a.app.close()
    await b.app.close()
  })

  // Three fires, and the batch of the last one's end.
  await clock.tick(3000 + END_BATCH_MS)
  await flush()
  t.equal(runs.length, 3, 'three fires, three runs in the fleet')
  t.equal(new Set(runs.map((run) => run.split('@')[1])).size, 3, 'each fire once')

  const res = await b.app.inject('/jobs')
  t.equal(res.statusCode, 200)
  const body = res.json<JobsBody>()
  t.same(body.instances.map((i) => i.id).sort(), ['a', 'b'], 'the fleet')
  const tick = body.jobs.find((job) => job.id === 'tick') as JobStatus
  t.match(tick, { stats: { runs: 3, successes: 3 }, lastRun: { status: 'success' } }, 'the fleet\'s stats, read from the store')
  t.ok(['a', 'b'].includes(tick.lastRun?.instanceId as string), 'lastRun.instanceId: who ran it')
  t.match((await a.app.inject('/jobs/tick')).json<JobStatus>(), { stats: { runs: 3 } }, 'GET /jobs/:id reads the store too')
  await a.app.scheduler.refresh()
  t.same(a.app.scheduler.getInstances().map((i) => i.id).sort(), ['a', 'b'], 'app.scheduler: refresh() then getInstances()')

  const started = await a.app.inject({ method: 'POST', url: '/jobs/long/run' })
  t.equal(started.statusCode, 202, 'a run claimed and started')
  const busy = await b.app.inject({ method: 'POST', url: '/jobs/long/run' })
  t.equal(busy.statusCode, 409, 'maxInstances counts the fleet: the other app refuses')
  t.match(busy.json(), { code: 'FST_SCHEDULER_INVALID_STATE' })
})

t.test('POST /run answers 503 when the store is unreachable', async (t) => {
  const clock = new ManualClock('2026-01-05T00:00:00.000Z')
  const store = new MemoryStore({ clock })
  const { app } = await build({ clock, store, routes: actions, jobs: [{ id: 'j', trigger: { cron: '0 0 1 1 *' }, handler: () => {} }] })
  await app.ready()
  t.teardown(async () => await app.close())
  store.claim = async () => { throw new Error('connection refused') }
  const res = await app.inject({ method: 'POST', url: '/jobs/j/run' })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'FST_SCHEDULER_STORE_UNAVAILABLE', message: /memory store/ })
  const listed = await app.inject('/jobs')
  t.equal(listed.statusCode, 200, 'the status routes still answer, from what was last read')
})

t.test('app.close() leaves the fleet: the other instance no longer lists it', async (t) => {
  const clock = new ManualClock('2026-01-05T00:00:00.000Z')
  const store = new MemoryStore({ clock })
  const a = await build({ clock, store, instanceId: 'a' })
  const b = await build({ clock, store, instanceId: 'b' })
  await Promise.all([a.app.ready(), b.app.ready()])
  t.same((await b.app.inject('/jobs')).json<JobsBody>().instances.map((i) => i.id).sort(), ['a', 'b'])
  await a.app.close()
  t.same((await b.app.inject('/jobs')).json<JobsBody>().instances.map((i) => i.id), ['b'])
  await b.app.close()
  t.equal(clock.pending, 0, 'no timer of either scheduler is left')
})
