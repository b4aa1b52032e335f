import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyScheduler, { BoundScheduler, fastifyScheduler as named, Scheduler, type JobContext } from '../lib/index.js'
import { build, deferred, LEVEL } from './helpers/app.js'
import { flush } from './helpers/fake-clock.js'

const MINUTE = 60_000

t.test('exports the plugin as default and as fastifyScheduler, with its metadata', async (t) => {
  t.equal(fastifyScheduler, named)
  const meta = (fastifyScheduler as unknown as Record<symbol, { name: string, fastify: string }>)[Symbol.for('plugin-meta')]
  t.same(meta, { name: 'fastify-scheduler', fastify: '5.x' })
  const { app } = await build()
  t.teardown(() => app.close())
  t.ok(app.hasPlugin('fastify-scheduler'))
})

t.test('decorates app.scheduler with one view per instance over one scheduler', async (t) => {
  const { app } = await build()
  t.teardown(() => app.close())
  t.ok(app.scheduler instanceof BoundScheduler)
  t.equal(app.scheduler, app.scheduler, 'the same view on every read')
  t.equal(app.scheduler.state, 'stopped')
  t.match(app.scheduler.instanceId, /^[0-9a-f-]{36}$/)
  let childView: BoundScheduler<FastifyInstance> | undefined
  await app.register(async (child) => {
    childView = child.scheduler
    t.not(child.scheduler, app.scheduler, 'a child gets its own view')
    t.equal(child.scheduler.instanceId, app.scheduler.instanceId, 'of the same scheduler')
  })
  app.scheduler.addJob({ id: 'a', trigger: { interval: MINUTE }, handler () {} })
  t.same(childView?.getJobs().map((job) => job.id), ['a'], 'views agree')
})

t.test('registering it twice on one app fails', async (t) => {
  const app = Fastify()
  app.register(fastifyScheduler)
  app.register(fastifyScheduler)
  await t.rejects(async () => { await app.ready() }, { code: 'FST_ERR_DEC_ALREADY_PRESENT' })
})

t.test('options.jobs: definitions are added at registration, with the app as this and ctx.fastify', async (t) => {
  const seen: Array<{ self: unknown, ctx: JobContext<{ n: number }, FastifyInstance> }> = []
  const { app, clock } = await build({
    jobs: [{
      id: 'tick',
      trigger: { interval: MINUTE },
      data: { n: 1 },
      handler (ctx: JobContext<{ n: number }, FastifyInstance>) { seen.push({ self: this, ctx }) }
    }]
  })
  t.teardown(() => app.close())
  t.same(app.scheduler.getJobs().map((job) => job.id), ['tick'], 'added before ready')
  await app.ready()
  await clock.tick(MINUTE)
  t.equal(seen.length, 1)
  t.equal(seen[0].self, app)
  t.equal(seen[0].ctx.fastify, app)
  t.same(seen[0].ctx.data, { n: 1 })
})

t.test('options.jobs: other objects go to addJobsFrom, owned by the app', async (t) => {
  const calls: Array<{ object: object, owner: unknown }> = []
  const original = Scheduler.prototype.addJobsFrom
  // Stands in for the decorators: whatever addJobsFrom adds gets the owner withOwner set.
  Scheduler.prototype.addJobsFrom = function (this: Scheduler, object: object) {
    return [this.addJob({ id: `from-${calls.length}`, trigger: { interval: MINUTE }, handler (ctx) { calls.push({ object, owner: ctx.fastify }) } })]
  }
  t.teardown(() => { Scheduler.prototype.addJobsFrom = original })
  class Maintenance {}
  const object = new Maintenance()
  const { app } = await build({ jobs: [object] })
  t.teardown(() => app.close())
  await app.scheduler.runJob('from-0')
  t.equal(calls[0].object, object)
  t.equal(calls[0].owner, app)
})

t.test('encapsulation: a job added in a child plugin gets the child as this and ctx.fastify', async (t) => {
  const { app } = await build()
  t.teardown(() => app.close())
  const seen: Array<{ self: FastifyInstance, fastify: FastifyInstance }> = []
  let childInstance: FastifyInstance | undefined
  await app.register(async (child) => {
    childInstance = child
    child.decorate('area', 'billing')
    child.scheduler.addJob({
      id: 'invoice',
      trigger: { cron: '0 6 * * *' },
      handler (ctx) { seen.push({ self: this, fastify: ctx.fastify }) }
    })
    // A grandchild registers its own job on its own view.
    await child.register(async (grandchild) => {
      grandchild.scheduler.addJob({ id: 'nested', trigger: { cron: '0 7 * * *' }, handler (ctx) { seen.push({ self: this, fastify: ctx.fastify }) } })
    })
  })
  app.scheduler.addJob({ id: 'root', trigger: { cron: '0 8 * * *' }, handler (ctx) { seen.push({ self: this, fastify: ctx.fastify }) } })
  await app.ready()
  await app.scheduler.runJob('invoice')
  await app.scheduler.runJob('nested')
  await app.scheduler.runJob('root')
  t.equal(seen[0].self, childInstance)
  t.equal(seen[0].fastify, childInstance)
  t.equal((seen[0].fastify as FastifyInstance & { area: string }).area, 'billing', 'the child sees its own decorators')
  t.not(seen[1].self, childInstance, 'the grandchild is an instance of its own')
  t.equal(seen[1].self, seen[1].fastify)
  t.equal(Object.getPrototypeOf(seen[1].self), childInstance, 'whose parent is the child')
  t.equal(seen[2].self, app)
  t.equal(seen[2].fastify, app)
  t.notOk(app.hasDecorator('area'), 'the decorator stayed in the child')
})

t.test('encapsulation: addJobsFrom through a child view gives the child as ctx.fastify', async (t) => {
  const original = Scheduler.prototype.addJobsFrom
  const owners: unknown[] = []
  Scheduler.prototype.addJobsFrom = function (this: Scheduler) {
    return [this.addJob({ id: 'decorated', trigger: { interval: MINUTE }, handler (ctx) { owners.push(ctx.fastify) } })]
  }
  t.teardown(() => { Scheduler.prototype.addJobsFrom = original })
  const { app } = await build()
  t.teardown(() => app.close())
  let childInstance: FastifyInstance | undefined
  await app.register(async (child) => {
    childInstance = child
    t.same(child.scheduler.addJobsFrom({}).map((job) => job.id), ['decorated'])
  })
  // Jobs added afterwards through the root are the root's again.
  app.scheduler.addJob({ id: 'after', trigger: { interval: MINUTE }, handler (ctx) { owners.push(ctx.fastify) } })
  await app.scheduler.runJob('decorated')
  await app.scheduler.runJob('after')
  t.equal(owners[0], childInstance)
  t.equal(owners[1], app)
})

t.test('replacing a job from another instance moves it to that instance', async (t) => {
  const { app } = await build()
  t.teardown(() => app.close())
  const owners: unknown[] = []
  const handler = (ctx: JobContext<unknown, FastifyInstance>): void => { owners.push(ctx.fastify) }
  app.scheduler.addJob({ id: 'x', trigger: { interval: MINUTE }, handler })
  let childInstance: FastifyInstance | undefined
  await app.register(async (child) => {
    childInstance = child
    child.scheduler.addJob({ id: 'x', trigger: { interval: MINUTE }, handler, replaceExisting: true })
  })
  await app.scheduler.runJob('x')
  t.same(owners, [childInstance])
})

t.test('the view delegates every operation to the scheduler', async (t) => {
  const { app, clock } = await build({ autoStart: false })
  t.teardown(() => app.close())
  await app.ready()
  const view = app.scheduler
  const events: string[] = []
  const onAdded = (): void => { events.push('added') }
  t.equal(view.on('job:added', onAdded), view, 'on chains')
  t.equal(view.once('job:removed', () => { events.push('removed') }), view, 'once chains')
  const gate = deferred()
  view.addJob({ id: 'j', trigger: { interval: MINUTE }, handler: async () => { await gate.promise; return 42 } })
  t.equal(view.off('job:added', onAdded), view, 'off chains')
  view.addJob({ id: 'k', trigger: { interval: MINUTE }, handler () {} })
  t.same(events, ['added'], 'off removed the listener')

  view.start()
  t.equal(view.state, 'running')
  view.pause()
  t.equal(view.state, 'paused')
  view.resume()
  t.equal(view.state, 'running')

  t.equal(view.pauseJob('j').paused, true)
  t.equal(view.resumeJob('j').paused, false)
  t.equal(view.rescheduleJob('j', { interval: 2 * MINUTE }).trigger.type, 'interval')
  t.equal(view.getJob('j')?.nextRunAt, new Date(clock.now() + 2 * MINUTE).toISOString())
  t.equal(view.getJob('nope'), undefined)
  t.equal(view.getJobs().length, 2)

  const handle = view.startRun('j')
  t.type(handle.runId, 'string')
  const skipped = await view.runJob('j')
  t.same(skipped, { runId: null, status: 'skipped' }, 'maxInstances 1: a second run is skipped')
  gate.resolve()
  t.match(await handle.result, { runId: handle.runId, status: 'success', result: 42 })

  t.equal(view.removeJob('k'), true)
  t.equal(view.removeJob('k'), false)
  t.same(events, ['added', 'removed'])

  await view.shutdown()
  t.equal(view.state, 'stopped')
  t.throws(() => view.addJob({ id: 'late', trigger: { interval: MINUTE }, handler () {} }), { code: 'FST_SCHEDULER_INVALID_STATE' })
})

t.test('logger: ctx.log is a child of the app logger bound to jobId and runId', async (t) => {
  const { app, logs } = await build({}, { logs: true })
  t.teardown(() => app.close())
  app.scheduler.addJob({ id: 'hello', trigger: { interval: MINUTE }, handler (ctx) { ctx.log.info({ step: 1 }, 'working') } })
  await app.ready()
  const { runId } = await app.scheduler.runJob('hello')
  const line = logs.find((entry) => entry.msg === 'working')
  t.match(line, { level: LEVEL.info, jobId: 'hello', runId, step: 1 })
  t.match(logs.find((entry) => entry.msg === 'job started'), { level: LEVEL.debug, jobId: 'hello', runId })
  t.match(logs.find((entry) => entry.msg === 'job succeeded'), { level: LEVEL.debug, jobId: 'hello', runId })
})

t.test('logger: failures at error, misses and max-instances skips at warn, each once', async (t) => {
  const { app, clock, logs } = await build({}, { logs: true })
  t.teardown(() => app.close())
  app.scheduler.addJob({ id: 'boom', trigger: { interval: MINUTE }, handler () { throw new TypeError('bad input') } })
  const gate = deferred()
  app.scheduler.addJob({ id: 'slow', trigger: { interval: MINUTE }, handler: async () => await gate.promise })
  app.scheduler.addJob({ id: 'late', trigger: { interval: MINUTE }, misfireGraceTime: 1000, handler () {} })
  await app.ready()
  await clock.tick(MINUTE) // boom fails, slow starts, late runs
  await clock.jump(2 * MINUTE) // slow skipped (still running), late's fire is 1 minute late: missed
  const failed = logs.filter((entry) => entry.jobId === 'boom' && entry.level === LEVEL.error)
  t.equal(app.scheduler.getJob('boom')?.stats.failures, 2)
  t.equal(failed.length, 2, 'one error line per failed run')
  t.not(failed[0].runId, failed[1].runId)
  t.match(failed[0], { msg: 'job failed', err: { type: 'TypeError', message: 'bad input' }, runId: String })
  const skipped = logs.filter((entry) => entry.jobId === 'slow' && entry.level === LEVEL.warn)
  t.equal(skipped.length, 1)
  t.match(skipped[0], { reason: 'max-instances' })
  const missed = logs.filter((entry) => entry.jobId === 'late' && entry.level === LEVEL.warn)
  t.equal(missed.length, 1)
  t.match(missed[0], { msg: /missed/, count: 1 })
  gate.resolve()
  await flush()
})

t.test('two apps in one process: separate schedulers that do not interfere', async (t) => {
  const one = await build()
  const two = await build()
  const runs = { one: 0, two: 0 }
  one.app.scheduler.addJob({ id: 'same', trigger: { interval: MINUTE }, handler () { runs.one++ } })
  two.app.scheduler.addJob({ id: 'same', trigger: { interval: MINUTE }, handler () { runs.two++ } })
  await one.app.ready()
  await two.app.ready()
  t.not(one.app.scheduler.instanceId, two.app.scheduler.instanceId)
  await one.clock.tick(MINUTE)
  t.same(runs, { one: 1, two: 0 }, 'one clock drives one app')
  one.app.scheduler.pauseJob('same')
  t.equal(two.app.scheduler.getJob('same')?.paused, false, 'pausing in one leaves the other')
  await one.app.close()
  t.equal(one.app.scheduler.state, 'stopped')
  t.equal(two.app.scheduler.state, 'running', 'closing one leaves the other running')
  await two.clock.tick(MINUTE)
  t.same(runs, { one: 1, two: 1 })
  await two.app.close()
})

t.test('decorated objects: through options.jobs and from a child, `this` is the object and ctx.fastify the instance', async (t) => {
  const { Interval } = await import('../lib/decorators.js')
  const seen: Array<{ self: unknown, fastify: unknown }> = []
  class Maintenance {
    @Interval({ minutes: 1 }) heartbeat (ctx: JobContext): void { seen.push({ self: this, fastify: ctx.fastify }) }
  }
  class Billing {
    @Interval({ minutes: 1 }, { id: 'billing.tick' }) tick (ctx: JobContext): void { seen.push({ self: this, fastify: ctx.fastify }) }
  }
  const maintenance = new Maintenance()
  const billing = new Billing()
  const { app } = await build({ jobs: [maintenance] })
  t.teardown(() => app.close())
  let childInstance: FastifyInstance | undefined
  await app.register(async (child) => {
    childInstance = child
    child.scheduler.addJobsFrom(billing)
  })
  await app.scheduler.runJob('Maintenance.heartbeat')
  await app.scheduler.runJob('billing.tick')
  t.equal(seen[0].self, maintenance)
  t.equal(seen[0].fastify, app)
  t.equal(seen[1].self, billing)
  t.equal(seen[1].fastify, childInstance)
})
