import t from 'tap'
import { Scheduler } from '../lib/scheduler.js'
import { harness } from './helpers/scheduler.js'
import { ManualClock } from './helpers/fake-clock.js'
import type { JobContext } from '../lib/job.js'

t.test('start, pause, resume and state', async (t) => {
  const h = harness()
  const { scheduler } = h
  t.equal(scheduler.state, 'stopped')
  scheduler.pause()
  scheduler.resume()
  t.equal(scheduler.state, 'stopped', 'pause and resume do nothing while stopped')
  scheduler.start()
  t.equal(scheduler.state, 'running')
  scheduler.start()
  scheduler.resume()
  scheduler.pause()
  t.equal(scheduler.state, 'paused')
  scheduler.pause()
  scheduler.start()
  t.equal(scheduler.state, 'paused', 'start does nothing unless stopped')
  scheduler.resume()
  t.equal(scheduler.state, 'running')
  t.same(h.events.map((e) => e.event), ['scheduler:start', 'scheduler:pause', 'scheduler:resume'], 'one event per real change')
  t.same(h.of('scheduler:pause'), [{ state: 'paused' }])
})

t.test('intervals are anchored when the scheduler starts, not when added', async (t) => {
  const h = harness()
  const start = h.clock.now()
  h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: () => {} })
  await h.clock.tick(300)
  h.scheduler.start()
  t.equal(h.scheduler.getJob('a')?.nextRunAt, new Date(start + 1300).toISOString())
})

t.test('shutdown with a run that finishes in time', async (t) => {
  const h = harness({ shutdownTimeout: 5000 })
  let finish!: () => void
  h.scheduler.addJob({ id: 'quick', trigger: { interval: 1000 }, handler: async () => await new Promise<void>((resolve) => { finish = resolve }) })
  h.scheduler.start()
  await h.clock.tick(1000)
  let resolved = false
  const closing = h.scheduler.shutdown().then(() => { resolved = true })
  t.equal(h.scheduler.state, 'stopped', 'stops firing at once')
  await h.clock.tick(1000)
  t.equal(resolved, false, 'waits for the live run')
  finish()
  await closing
  t.match(h.scheduler.getJob('quick'), { lastRun: { status: 'success' }, nextRunAt: null })
  t.equal(h.clock.pending, 0, 'no timer left')
  t.same(h.events.at(-1), { event: 'scheduler:shutdown', payload: { state: 'stopped' } })
})

t.test('shutdown with a run that needs the abort', async (t) => {
  const h = harness({ shutdownTimeout: 5000 })
  let signal!: AbortSignal
  let cleanedUp = false
  h.scheduler.addJob({
    id: 'listening',
    trigger: { interval: 1000 },
    handler: async (ctx: JobContext) => {
      signal = ctx.signal
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
      cleanedUp = true
    }
  })
  h.scheduler.start()
  await h.clock.tick(1000)
  let resolved = false
  const closing = h.scheduler.shutdown().then(() => { resolved = true })
  await h.clock.tick(4999)
  t.equal(resolved, false)
  t.equal(signal.aborted, false, 'not aborted within the grace time')
  await h.clock.tick(1)
  await closing
  t.equal(signal.aborted, true)
  t.equal(cleanedUp, true, 'the handler saw the abort')
  t.match(h.scheduler.getJob('listening')?.lastRun, { status: 'aborted', error: { name: 'AbortError' } })
  t.match(h.of('job:error'), [{ id: 'listening', status: 'aborted' }])
  t.equal(h.clock.pending, 0)
})

t.test('shutdown with a run that ignores the abort still resolves', async (t) => {
  const h = harness({ shutdownTimeout: 100 })
  h.scheduler.addJob({ id: 'deaf', trigger: { interval: 1000 }, handler: async () => await new Promise(() => {}) })
  h.scheduler.addJob({ id: 'other', trigger: { interval: 60_000 }, handler: () => {} })
  h.scheduler.start()
  await h.clock.tick(1000)
  const closing = h.scheduler.shutdown()
  t.equal(h.scheduler.shutdown(), closing, 'the same promise twice')
  await h.clock.tick(100)
  await closing
  t.match(h.scheduler.getJob('deaf'), { running: 0, lastRun: { status: 'aborted' }, stats: { failures: 1 } })
  t.equal(h.clock.pending, 0, 'nothing of the scheduler is left to keep the process alive')
  t.equal(h.scheduler.getJob('other')?.nextRunAt, null)
})

t.test('shutdown waits for runs of removed jobs too, with a ref()ed grace timer', async (t) => {
  const clock = new ManualClock()
  const refs: unknown[] = []
  const refClock = {
    now: () => clock.now(),
    setTimeout: (fn: () => void, ms: number) => {
      const id = clock.setTimeout(fn, ms)
      return { id, ref () { refs.push(id) } }
    },
    clearTimeout: (handle: unknown) => clock.clearTimeout((handle as { id: number }).id)
  }
  const scheduler = new Scheduler({ clock: refClock, shutdownTimeout: 1000 })
  scheduler.addJob({ id: 'gone', trigger: { interval: 1000 }, handler: async () => await new Promise(() => {}) })
  scheduler.start()
  await clock.tick(1000)
  scheduler.removeJob('gone')
  const closing = scheduler.shutdown()
  t.equal(refs.length, 1, 'the grace timer is ref()ed (the scheduling timer is not)')
  await clock.tick(1000)
  await closing
  t.equal(clock.pending, 0)
})

t.test('shutdown with nothing running resolves at once; afterwards the scheduler refuses work', async (t) => {
  const h = harness()
  h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: () => {} })
  h.scheduler.start()
  await h.scheduler.shutdown()
  t.equal(h.clock.pending, 0)
  t.throws(() => h.scheduler.start(), { code: 'FST_SCHEDULER_INVALID_STATE' })
  t.throws(() => h.scheduler.addJob({ id: 'b', trigger: { interval: 1000 }, handler: () => {} }), { code: 'FST_SCHEDULER_INVALID_STATE', message: /shut down/ })
  await t.rejects(h.scheduler.runJob('a'), { code: 'FST_SCHEDULER_INVALID_STATE' })
  t.match(h.scheduler.resumeJob('a'), { nextRunAt: null }, 'bookkeeping still works, without scheduling')
  t.match(h.scheduler.pauseJob('a'), { paused: true })
  t.match(h.scheduler.resumeJob('a'), { paused: false, nextRunAt: null })
  t.equal(h.clock.pending, 0)
})

t.test('a handler may shut the scheduler down from inside a wake', async (t) => {
  const h = harness()
  let closing: Promise<void> | undefined
  const ran: string[] = []
  h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: () => { ran.push('a'); closing = h.scheduler.shutdown() } })
  h.scheduler.addJob({ id: 'b', trigger: { interval: 1000 }, handler: () => { ran.push('b') } })
  h.scheduler.start()
  await h.clock.tick(1000)
  await closing
  t.same(ran, ['a'], 'nothing fires after shutdown began')
  t.equal(h.clock.pending, 0)
})

t.test('a handler may pause the scheduler from inside a wake', async (t) => {
  const h = harness()
  const ran: string[] = []
  h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: () => { ran.push('a'); h.scheduler.pause() } })
  h.scheduler.addJob({ id: 'b', trigger: { interval: 1000 }, handler: () => { ran.push('b') } })
  h.scheduler.start()
  await h.clock.tick(1000)
  t.same(ran, ['a'])
  t.same(h.of('job:skipped').map((e) => [e.id, e.reason]), [['b', 'paused']])
})
