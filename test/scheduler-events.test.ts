import t from 'tap'
import { Scheduler } from '../lib/scheduler.js'
import { harness } from './helpers/scheduler.js'

t.test('events and their payloads, in order', async (t) => {
  const h = harness()
  const start = h.clock.now()
  h.scheduler.addJob({ id: 'ok', trigger: { interval: 1000 }, handler: () => 'value' })
  h.scheduler.start()
  await h.clock.tick(1000)
  h.scheduler.pauseJob('ok')
  h.scheduler.removeJob('ok')
  const names = h.events.map((e) => e.event)
  t.same(names, ['job:added', 'scheduler:start', 'job:start', 'job:success', 'job:updated', 'job:removed'])
  t.match(h.of('job:added')[0], { id: 'ok', job: { id: 'ok', paused: false, nextRunAt: null } })
  const [started] = h.of('job:start')
  const [success] = h.of('job:success')
  t.same(started, { id: 'ok', runId: started.runId, scheduledAt: new Date(start + 1000), startedAt: new Date(start + 1000) })
  t.same(success, { ...started, finishedAt: new Date(start + 1000), durationMs: 0, result: 'value' })
  t.match(h.of('job:updated')[0], { id: 'ok', change: 'paused', job: { paused: true } })
})

t.test('job:error, job:missed and job:skipped payloads', async (t) => {
  const h = harness()
  const start = h.clock.now()
  const boom = new Error('boom')
  h.scheduler.addJob({ id: 'bad', trigger: { interval: 1000 }, misfireGraceTime: 100, handler: () => { throw boom } })
  h.scheduler.addJob({ id: 'busy', trigger: { interval: 1000 }, handler: async () => await new Promise(() => {}) })
  h.scheduler.start()
  await h.clock.tick(1000)
  t.same(h.of('job:error'), [{
    id: 'bad',
    runId: h.of('job:start')[0].runId,
    scheduledAt: new Date(start + 1000),
    startedAt: new Date(start + 1000),
    finishedAt: new Date(start + 1000),
    durationMs: 0,
    status: 'error',
    error: boom
  }])
  await h.clock.jump(2500) // now = 3500: 'bad' fires 2000, 3000 are late beyond 100 ms
  t.same(h.of('job:missed'), [{ id: 'bad', scheduledAt: new Date(start + 2000), count: 2 }])
  t.same(h.of('job:skipped'), [{ id: 'busy', scheduledAt: new Date(start + 3000), reason: 'max-instances', count: 1 }])
})

t.test('a throwing listener is logged and ignored; the other listeners still run', async (t) => {
  const h = harness()
  const seen: string[] = []
  h.scheduler.on('job:added', () => { throw new Error('listener bug') })
  h.scheduler.on('job:added', async () => { throw new Error('async listener bug') })
  h.scheduler.on('job:added', (e) => { seen.push(e.id) })
  h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: () => {} })
  await h.clock.tick(0)
  t.same(seen, ['a'])
  t.match(h.logs.filter((l) => l.level === 'error'), [
    { obj: { err: { message: 'listener bug' }, event: 'job:added' }, msg: /"job:added" listener threw/ },
    { obj: { err: { message: 'async listener bug' }, event: 'job:added' } }
  ])
  t.equal(h.scheduler.getJob('a')?.id, 'a', 'the job was added all the same')
})

t.test('once, off, and chaining', async (t) => {
  const h = harness()
  const calls: string[] = []
  const listener = (e: { id: string }): void => { calls.push(`on:${e.id}`) }
  const onceListener = (e: { id: string }): void => { calls.push(`once:${e.id}`) }
  const cancelled = (): void => { calls.push('cancelled') }
  t.equal(h.scheduler.on('job:removed', listener).once('job:removed', onceListener).once('job:removed', cancelled), h.scheduler, 'on and once chain')
  h.scheduler.off('job:removed', cancelled)
  for (const id of ['a', 'b']) h.scheduler.addJob({ id, trigger: { interval: 1000 }, handler: () => {} })
  h.scheduler.removeJob('a')
  t.equal(h.scheduler.off('job:removed', listener), h.scheduler)
  h.scheduler.removeJob('b')
  t.same(calls, ['on:a', 'once:a'])
  h.scheduler.off('scheduler:pause', () => {})
  h.scheduler.off('job:removed', () => {})
  t.throws(() => h.scheduler.on('job:added', 'nope' as never), { code: 'FST_SCHEDULER_INVALID_OPTION', message: /listener "nope"/ })
  t.throws(() => h.scheduler.once('job:added', null as never), { code: 'FST_SCHEDULER_INVALID_OPTION' })
})

t.test('off removes one registration at a time, the latest first', async (t) => {
  const h = harness()
  let calls = 0
  const listener = (): void => { calls++ }
  h.scheduler.on('scheduler:start', listener).on('scheduler:start', listener).on('scheduler:start', () => {})
  h.scheduler.off('scheduler:start', listener)
  h.scheduler.start()
  t.equal(calls, 1)
})

t.test('off on a scheduler without listeners, and removing the last listener', async (t) => {
  const scheduler = new Scheduler()
  const listener = (): void => { t.fail('removed listeners are not called') }
  scheduler.off('job:added', listener)
  scheduler.on('job:added', listener)
  scheduler.off('job:added', listener)
  scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: () => {} })
  t.equal(scheduler.getJobs().length, 1)
})
