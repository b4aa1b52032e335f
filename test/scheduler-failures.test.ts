import t from 'tap'
import { harness, iso, listTrigger } from './helpers/scheduler.js'
import type { JobContext } from '../lib/job.js'
import type { Trigger } from '../lib/triggers/trigger.js'

t.test('every kind of failing handler is contained; future fires go on', async (t) => {
  const handlers: Record<string, () => unknown> = {
    sync: () => { throw new TypeError('sync') },
    rejects: async () => { throw new RangeError('async') },
    // eslint-disable-next-line no-throw-literal
    string: () => { throw 'x' },
    // eslint-disable-next-line no-throw-literal
    undef: () => { throw undefined }
  }
  const h = harness()
  for (const [id, handler] of Object.entries(handlers)) h.scheduler.addJob({ id, trigger: { interval: 1000 }, handler })
  h.scheduler.addJob({ id: 'never', trigger: { interval: 1000 }, timeout: 300, handler: async () => await new Promise(() => {}) })
  h.scheduler.start()
  await h.clock.tick(3300) // the third run of 'never' times out at 3300
  const expected: Record<string, unknown> = {
    sync: { name: 'TypeError', message: 'sync' },
    rejects: { name: 'RangeError', message: 'async' },
    string: { name: 'Error', message: 'x' },
    undef: { name: 'Error', message: 'undefined' },
    never: { name: 'TimeoutError', message: 'Job "never" timed out after 300 ms' }
  }
  for (const [id, error] of Object.entries(expected)) {
    const status = h.scheduler.getJob(id)
    t.same(status?.lastRun?.error, error, `${id}: lastRun.error is { name, message }`)
    t.equal(status?.lastRun?.status, id === 'never' ? 'timeout' : 'error')
    t.match(status?.stats, { runs: 3, failures: 3, successes: 0 }, `${id}: three fires, three failures, still scheduled`)
    t.notOk(JSON.stringify(status).includes('stack'), 'no stack anywhere')
  }
  const errors = h.of('job:error')
  t.equal(errors.length, 15)
  t.ok(errors.every((e) => e.error instanceof Error), 'events carry an Error')
  t.same(errors.filter((e) => e.id === 'string').map((e) => e.error.message), ['x', 'x', 'x'])
  t.ok(errors.filter((e) => e.id === 'never').every((e) => e.status === 'timeout' && e.error.name === 'TimeoutError'))
  t.ok(h.logs.filter((l) => l.level === 'error').length >= 15, 'every failure logged')
})

t.test('timeout aborts the signal; lastRun and the event say timeout', async (t) => {
  const h = harness()
  let signal!: AbortSignal
  h.scheduler.addJob({
    id: 'slow',
    trigger: { interval: 10_000 },
    timeout: 2000,
    handler: async (ctx: JobContext) => {
      signal = ctx.signal
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
    }
  })
  h.scheduler.start()
  await h.clock.tick(11_999)
  t.equal(signal.aborted, false)
  await h.clock.tick(1)
  t.equal(signal.aborted, true)
  t.match(h.scheduler.getJob('slow')?.lastRun, { status: 'timeout', durationMs: 2000 })
  t.match(h.of('job:error'), [{ id: 'slow', status: 'timeout', durationMs: 2000 }])
})

t.test('a throwing trigger unschedules its job and the loop goes on', async (t) => {
  const h = harness()
  const start = h.clock.now()
  let calls = 0
  const broken: Trigger = {
    jitter: 0,
    next: (after) => {
      if (++calls > 1) throw new Error('trigger bug')
      return new Date(after.getTime() + 1000)
    },
    toJSON: () => ({ type: 'date', description: 'broken' })
  }
  let healthy = 0
  h.scheduler.addJob({ id: 'broken', trigger: broken, handler: () => {} })
  h.scheduler.addJob({ id: 'healthy', trigger: listTrigger([start + 1000, start + 2000]), handler: () => { healthy++ } })
  h.scheduler.start()
  await h.clock.tick(2000)
  t.equal(healthy, 2, 'the other job still fires')
  t.equal(h.scheduler.getJob('broken')?.nextRunAt, null)
  t.match(h.logs, [{ level: 'error', obj: { jobId: 'broken', err: { message: 'trigger bug' } } }])
  calls = 0
  t.equal(h.scheduler.rescheduleJob('broken', broken).nextRunAt, iso(start + 3000), 'rescheduling brings it back')
})
