import t from 'tap'
import { harness } from './helpers/scheduler.js'
import type { JobContext } from '../lib/job.js'

/** A handler whose runs stay open until the test settles them. */
function openRuns (): { handler: (ctx: JobContext) => Promise<void>, settle: () => void, count: () => number } {
  const pending: Array<() => void> = []
  return {
    handler: async () => await new Promise<void>((resolve) => { pending.push(resolve) }),
    settle: () => { for (const resolve of pending.splice(0)) resolve() },
    count: () => pending.length
  }
}

t.test('maxInstances 1: a fire while a run is live is skipped, never queued', async (t) => {
  const h = harness()
  const runs = openRuns()
  h.scheduler.addJob({ id: 'slow', trigger: { interval: 1000 }, handler: runs.handler })
  h.scheduler.start()
  await h.clock.tick(3000)
  t.equal(runs.count(), 1, 'one live run')
  t.same(h.of('job:skipped').map((e) => [e.reason, e.count, e.scheduledAt.getTime() - h.clock.now()]), [['max-instances', 1, -1000], ['max-instances', 1, 0]])
  t.match(h.scheduler.getJob('slow'), { running: 1, stats: { runs: 1, skipped: 2 } })
  runs.settle()
  await h.clock.tick(1000)
  t.equal(runs.count(), 1, 'the next fire after the run ended starts a run (nothing queued meanwhile)')
  t.match(h.scheduler.getJob('slow'), { running: 1, stats: { runs: 2, successes: 1, skipped: 2 } })
  t.match(h.logs.find((l) => l.level === 'warn'), { obj: { jobId: 'slow', reason: 'max-instances' } })
})

t.test('maxInstances 3: up to three live runs', async (t) => {
  const h = harness()
  const runs = openRuns()
  h.scheduler.addJob({ id: 'wide', trigger: { interval: 1000 }, maxInstances: 3, handler: runs.handler })
  h.scheduler.start()
  await h.clock.tick(5000)
  t.equal(runs.count(), 3)
  t.equal(h.of('job:skipped').length, 2)
  t.equal(h.scheduler.getJob('wide')?.running, 3)
  runs.settle()
  await h.clock.tick(0)
  t.equal(h.scheduler.getJob('wide')?.running, 0)
})

t.test('runJob honours maxInstances: skipped at once', async (t) => {
  const h = harness()
  const runs = openRuns()
  h.scheduler.addJob({ id: 'one', trigger: { interval: 60_000 }, handler: runs.handler })
  const first = h.scheduler.runJob('one')
  t.same(await h.scheduler.runJob('one'), { runId: null, status: 'skipped' })
  t.equal(h.of('job:skipped').at(-1)?.reason, 'max-instances')
  runs.settle()
  t.match(await first, { status: 'success' })
})

t.test('a run that timed out no longer counts toward maxInstances', async (t) => {
  const h = harness()
  let started = 0
  h.scheduler.addJob({
    id: 'stuck',
    trigger: { interval: 1000 },
    timeout: 500,
    handler: async () => {
      started++
      await new Promise(() => {}) // ignores its signal, never settles
    }
  })
  h.scheduler.start()
  await h.clock.tick(1000)
  t.equal(h.scheduler.getJob('stuck')?.running, 1)
  await h.clock.tick(500)
  t.equal(h.scheduler.getJob('stuck')?.running, 0, 'timed out: no longer running')
  await h.clock.tick(500)
  t.equal(started, 2, 'the next fire runs instead of being skipped forever')
  t.equal(h.of('job:skipped').length, 0)
})
