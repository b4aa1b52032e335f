import t from 'tap'
import { Scheduler } from '../lib/scheduler.js'
import { harness, iso } from './helpers/scheduler.js'
import { recordingLogger } from './helpers/logger.js'
import type { JobContext, JobDefinition } from '../lib/job.js'

const handler = (): void => {}

t.test('addJob returns the JobStatus; getJob and getJobs show it', async (t) => {
  const h = harness()
  const start = h.clock.now()
  const status = h.scheduler.addJob({ id: 'report', name: 'Daily report', trigger: { cron: '0 6 * * *' }, handler })
  t.same(status, {
    id: 'report',
    name: 'Daily report',
    trigger: { type: 'cron', description: status.trigger.description, expression: '0 6 * * *', timezone: 'UTC' },
    paused: false,
    running: 0,
    nextRunAt: null,
    lastRun: null,
    stats: { runs: 0, successes: 0, failures: 0, missed: 0, skipped: 0 }
  })
  h.scheduler.addJob({ id: 'b', trigger: { interval: 1000 }, handler })
  h.scheduler.start()
  t.equal(h.scheduler.getJob('report')?.nextRunAt, iso(start + 6 * 3_600_000))
  t.same(h.scheduler.getJobs().map((s) => s.id), ['report', 'b'])
  t.equal(h.scheduler.getJob('nope'), undefined)
  t.equal(h.scheduler.getJob('b')?.name, 'b', 'name defaults to id')
})

t.test('runJob resolves with the run; startRun gives the id first', async (t) => {
  const h = harness()
  let seen: JobContext | undefined
  h.scheduler.addJob({ id: 'a', trigger: { interval: 60_000 }, data: { n: 1 }, handler: (ctx) => { seen = ctx; return 'result' } })
  const result = await h.scheduler.runJob('a')
  t.match(result, { runId: String, status: 'success', result: 'result' })
  t.equal(seen?.scheduledAt.getTime(), h.clock.now(), 'a manual run is scheduled now')
  t.same(seen?.data, { n: 1 })
  t.same(seen?.fastify, { app: 'owner' })
  t.match(h.scheduler.getJob('a')?.lastRun, { runId: result.runId, status: 'success', instanceId: h.scheduler.instanceId })

  h.scheduler.addJob({ id: 'bad', trigger: { interval: 60_000 }, handler: () => { throw new Error('no') } })
  t.same(await h.scheduler.runJob('bad'), { runId: h.scheduler.getJob('bad')?.lastRun?.runId, status: 'error', error: { name: 'Error', message: 'no' } })

  const handle = h.scheduler.startRun('a')
  t.type(handle.runId, 'string')
  t.equal((await handle.result).runId, handle.runId)
  await t.rejects(h.scheduler.runJob('nope'), { code: 'FST_SCHEDULER_JOB_NOT_FOUND', statusCode: 404, message: /"nope"/ })
})

t.test('a paused job can still be run by hand', async (t) => {
  const h = harness()
  h.scheduler.addJob({ id: 'p', trigger: { interval: 1000 }, paused: true, handler: () => 1 })
  t.match(await h.scheduler.runJob('p'), { status: 'success' })
})

t.test('unknown ids throw FST_SCHEDULER_JOB_NOT_FOUND; removeJob returns false', async (t) => {
  const { scheduler } = harness()
  for (const call of [() => scheduler.pauseJob('x'), () => scheduler.resumeJob('x'), () => scheduler.rescheduleJob('x', { interval: 1 })]) {
    t.throws(call, { code: 'FST_SCHEDULER_JOB_NOT_FOUND', message: 'No job with id "x"' })
  }
  t.equal(scheduler.removeJob('x'), false)
})

t.test('duplicates are refused unless replaceExisting; a replacement keeps live runs and stats', async (t) => {
  const h = harness()
  let finish!: () => void
  h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: async () => await new Promise<void>((resolve) => { finish = resolve }) })
  h.scheduler.start()
  t.throws(() => h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler }), { code: 'FST_SCHEDULER_DUPLICATE_JOB', statusCode: 409, message: /"a"/ })
  await h.clock.tick(1000)
  const replaced = h.scheduler.addJob({ id: 'a', name: 'new', trigger: { interval: 500 }, maxInstances: 2, handler: () => 'v2', replaceExisting: true })
  t.match(replaced, { name: 'new', running: 1, stats: { runs: 1 }, nextRunAt: iso(h.clock.now() + 500) })
  t.same(h.of('job:updated').map((e) => e.change), ['replaced'])
  finish()
  await h.clock.tick(500)
  t.match(h.scheduler.getJob('a'), { running: 0, stats: { runs: 2, successes: 2 } })
  t.equal(h.scheduler.getJobs().length, 1)
  t.equal(h.scheduler.addJob({ id: 'a', trigger: { interval: 500 }, handler, replaceExisting: true }).name, 'a', 'a replacement without a name is named by its id')
})

t.test('pause, resume, reschedule and remove while a run is in flight', async (t) => {
  const h = harness()
  const start = h.clock.now()
  let finish!: () => void
  let runs = 0
  h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, handler: async () => { runs++; await new Promise<void>((resolve) => { finish = resolve }) } })
  h.scheduler.start()
  await h.clock.tick(1000)

  const paused = h.scheduler.pauseJob('a')
  t.match(paused, { paused: true, nextRunAt: null, running: 1 }, 'paused: no next fire, the live run goes on')
  t.equal(h.scheduler.pauseJob('a').paused, true, 'pausing twice is harmless')
  await h.clock.tick(2500)
  t.equal(runs, 1, 'no fires while paused')
  finish()
  await h.clock.tick(0)
  t.match(h.scheduler.getJob('a'), { running: 0, lastRun: { status: 'success' } })

  const resumed = h.scheduler.resumeJob('a') // now = start + 3500
  t.equal(resumed.nextRunAt, iso(start + 4500), 'resume anchors the interval now')
  t.equal(h.scheduler.resumeJob('a').paused, false, 'resuming twice is harmless')
  await h.clock.tick(1000)
  t.equal(runs, 2)

  const rescheduled = h.scheduler.rescheduleJob('a', { interval: 250 }) // now = start + 4500, run 2 in flight
  t.match(rescheduled, { nextRunAt: iso(start + 4750), running: 1, trigger: { type: 'interval', intervalMs: 250 } })
  t.throws(() => h.scheduler.rescheduleJob('a', { interval: -1 }), { code: 'FST_SCHEDULER_INVALID_TRIGGER', message: /^Job "a": / })
  t.throws(() => h.scheduler.rescheduleJob('a', undefined as never), { code: 'FST_SCHEDULER_INVALID_JOB', message: /trigger/ })
  t.equal(h.scheduler.getJob('a')?.nextRunAt, iso(start + 4750), 'a refused reschedule changes nothing')

  t.equal(h.scheduler.removeJob('a'), true)
  t.equal(h.scheduler.getJob('a'), undefined)
  t.equal(h.clock.pending, 0, 'the last job gone: no timer')
  finish()
  await h.clock.tick(0)
  t.match(h.of('job:success').at(-1), { id: 'a' }, 'the removed job\'s live run finished and was reported')
  t.same(h.of('job:updated').map((e) => e.change), ['paused', 'resumed', 'rescheduled'])
  t.same(h.of('job:removed'), [{ id: 'a' }])
})

t.test('rescheduling a paused job keeps it paused', async (t) => {
  const h = harness()
  h.scheduler.addJob({ id: 'a', trigger: { interval: 1000 }, paused: true, handler })
  h.scheduler.start()
  t.match(h.scheduler.rescheduleJob('a', { cron: '* * * * *' }), { paused: true, nextRunAt: null, trigger: { type: 'cron' } })
})

t.test('an exhausted job stays registered with nextRunAt null; immediate date jobs in the past never fire', async (t) => {
  const h = harness()
  h.scheduler.start()
  const status = h.scheduler.addJob({ id: 'past', trigger: { at: h.clock.now() - 1000 }, handler })
  t.equal(status.nextRunAt, null)
  t.equal(h.clock.pending, 0)
})

t.test('job definitions are validated with coded errors naming the job and the value', async (t) => {
  const { scheduler } = harness()
  const base = { id: 'j', trigger: { interval: 1000 }, handler }
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['not an object', null, 'FST_SCHEDULER_INVALID_JOB', /Invalid job null/],
    ['an array', [], 'FST_SCHEDULER_INVALID_JOB', /Invalid job \[\]/],
    ['no id', { ...base, id: undefined }, 'FST_SCHEDULER_INVALID_JOB', /id undefined/],
    ['empty id', { ...base, id: '' }, 'FST_SCHEDULER_INVALID_JOB', /id ""/],
    ['unknown field', { ...base, maxInstance: 2 }, 'FST_SCHEDULER_INVALID_JOB', /Job "j": invalid field "maxInstance"/],
    ['name', { ...base, name: 5 }, 'FST_SCHEDULER_INVALID_JOB', /Job "j": invalid name 5/],
    ['handler', { ...base, handler: 'x' }, 'FST_SCHEDULER_INVALID_JOB', /Job "j": invalid handler "x"/],
    ['no trigger', { ...base, trigger: undefined }, 'FST_SCHEDULER_INVALID_JOB', /Job "j": invalid trigger undefined: is required/],
    ['paused', { ...base, paused: 'yes' }, 'FST_SCHEDULER_INVALID_JOB', /Job "j": invalid paused "yes"/],
    ['replaceExisting', { ...base, replaceExisting: 1 }, 'FST_SCHEDULER_INVALID_JOB', /invalid replaceExisting 1/],
    ['maxInstances 0', { ...base, maxInstances: 0 }, 'FST_SCHEDULER_INVALID_JOB', /Job "j": invalid maxInstances 0: must be an integer >= 1/],
    ['maxInstances 1.5', { ...base, maxInstances: 1.5 }, 'FST_SCHEDULER_INVALID_JOB', /maxInstances 1.5/],
    ['coalesce', { ...base, coalesce: 'no' }, 'FST_SCHEDULER_INVALID_JOB', /invalid coalesce "no"/],
    ['misfireGraceTime', { ...base, misfireGraceTime: -1 }, 'FST_SCHEDULER_INVALID_JOB', /invalid misfireGraceTime -1/],
    ['timeout 0', { ...base, timeout: 0 }, 'FST_SCHEDULER_INVALID_JOB', /invalid timeout 0/],
    ['timeout Infinity', { ...base, timeout: Infinity }, 'FST_SCHEDULER_INVALID_JOB', /invalid timeout Infinity/],
    ['bad trigger', { ...base, trigger: { cron: '0 0 30 2 *' } }, 'FST_SCHEDULER_INVALID_TRIGGER', /^Job "j": .*0 0 30 2/],
    ['bad zone', { ...base, trigger: { cron: '* * * * *', timezone: 'Mars/Base' } }, 'FST_SCHEDULER_INVALID_TIMEZONE', /^Job "j": .*Mars\/Base/],
    ['trigger object without toJSON', { ...base, trigger: { next: () => null, jitter: 0 } }, 'FST_SCHEDULER_INVALID_JOB', /Job "j": invalid trigger/],
    ['trigger object with bad jitter', { ...base, trigger: { next: () => null, toJSON: () => ({}), jitter: -1 } }, 'FST_SCHEDULER_INVALID_JOB', /jitter >= 0/]
  ]
  for (const [name, definition, code, message] of cases) {
    t.throws(() => scheduler.addJob(definition as JobDefinition), { code, message }, name)
  }
  const throwing = { get interval () { throw new Error('getter') } }
  t.throws(() => scheduler.addJob({ ...base, trigger: throwing as never }), { code: 'FST_SCHEDULER_INVALID_TRIGGER', message: /^Job "j": invalid trigger .*Error: getter/ }, 'a non-coded error from createTrigger is wrapped')
  t.equal(scheduler.getJobs().length, 0, 'nothing was added')
  t.match(scheduler.addJob({ ...base, misfireGraceTime: null, timeout: null }), { id: 'j' }, 'null means none')
})

t.test('scheduler defaults apply to jobs that set nothing', async (t) => {
  const h = harness({ defaults: { maxInstances: 2, timeout: 50 } })
  const signals: AbortSignal[] = []
  h.scheduler.addJob({ id: 'a', trigger: { interval: 60_000 }, handler: async (ctx) => { signals.push(ctx.signal); await new Promise(() => {}) } })
  const first = h.scheduler.runJob('a')
  const second = h.scheduler.runJob('a')
  t.same(await h.scheduler.runJob('a'), { runId: null, status: 'skipped' }, 'maxInstances 2 from the defaults')
  await h.clock.tick(50)
  t.match(await first, { status: 'timeout' }, 'timeout 50 from the defaults')
  t.match(await second, { status: 'timeout' })
  t.ok(signals.every((signal) => signal.aborted))

  const g = harness({ defaults: { coalesce: false, misfireGraceTime: 1500 } })
  const start = g.clock.now()
  const runs: number[] = []
  g.scheduler.addJob({ id: 'b', trigger: { interval: 1000 }, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - start) } })
  g.scheduler.addJob({ id: 'own', trigger: { interval: 1000 }, coalesce: true, misfireGraceTime: null, handler: () => {} })
  g.scheduler.start()
  await g.clock.jump(3500)
  t.same(runs, [2000, 3000], 'coalesce false and a 1500 ms grace from the defaults')
  t.same(g.of('job:missed').map((e) => [e.id, e.count]), [['b', 1]], 'a job\'s own options win over the defaults')
})

t.test('constructor options are validated', async (t) => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['options', 5, 'FST_SCHEDULER_INVALID_OPTION', /options 5/],
    ['timezone', { timezone: 'Nowhere/City' }, 'FST_SCHEDULER_INVALID_TIMEZONE', /"Nowhere\/City"/],
    ['timezone type', { timezone: 3 }, 'FST_SCHEDULER_INVALID_TIMEZONE', /3/],
    ['clock', { clock: { now: () => 0 } }, 'FST_SCHEDULER_INVALID_OPTION', /option clock/],
    ['logger', { logger: console }, 'FST_SCHEDULER_INVALID_OPTION', /option logger/],
    ['defaults', { defaults: [] }, 'FST_SCHEDULER_INVALID_OPTION', /option defaults \[\]/],
    ['defaults null', { defaults: null }, 'FST_SCHEDULER_INVALID_OPTION', /option defaults null/],
    ['defaults key', { defaults: { paused: true } }, 'FST_SCHEDULER_INVALID_OPTION', /defaults\.paused true: unknown job option/],
    ['defaults value', { defaults: { maxInstances: 0 } }, 'FST_SCHEDULER_INVALID_OPTION', /defaults\.maxInstances 0/],
    ['shutdownTimeout', { shutdownTimeout: -1 }, 'FST_SCHEDULER_INVALID_OPTION', /shutdownTimeout -1/],
    ['shutdownTimeout type', { shutdownTimeout: '5s' }, 'FST_SCHEDULER_INVALID_OPTION', /shutdownTimeout "5s"/],
    ['instanceId', { instanceId: '' }, 'FST_SCHEDULER_INVALID_OPTION', /instanceId ""/]
  ]
  for (const [name, options, code, message] of cases) {
    t.throws(() => new Scheduler(options as never), { code, message }, name)
  }
  const scheduler = new Scheduler({ instanceId: 'node-1', logger: recordingLogger(), timezone: 'Europe/Berlin' })
  t.equal(scheduler.instanceId, 'node-1')
  t.match(new Scheduler().instanceId, /^[0-9a-f-]{36}$/, 'a random UUID by default')
})
