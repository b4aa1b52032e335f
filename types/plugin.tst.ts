import { expect, test } from 'tstyche'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import scheduler, { fastifyScheduler, BoundScheduler } from 'fastify-scheduler'
import type { JobContext, JobStatus, RunResult, SchedulerOptions, RoutesOptions, SchedulerState } from 'fastify-scheduler'

test('the plugin: default and named export, typed options', () => {
  expect(scheduler).type.toBe<FastifyPluginAsync<SchedulerOptions>>()
  expect(fastifyScheduler).type.toBe<FastifyPluginAsync<SchedulerOptions>>()
  const app = Fastify()
  app.register(scheduler)
  app.register(scheduler, {
    timezone: 'Europe/Berlin',
    autoStart: false,
    shutdownTimeout: 10_000,
    defaults: { maxInstances: 2, coalesce: false, misfireGraceTime: null, timeout: 60_000 },
    routes: { prefix: '/admin/jobs', onRequest: async () => {}, actions: true },
    clock: { now: () => 0, setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (handle: unknown) => {} },
    jobs: [
      { id: 'cleanup', trigger: { interval: { minutes: 5 } }, handler: async () => {} },
      { id: 'report', trigger: { cron: '0 6 * * 1-5' }, handler: () => 'sent', timeout: 60_000 },
      new (class Maintenance {})()
    ]
  })
  app.register(scheduler, { routes: false })
  // Inline hooks are typed from context, in both styles.
  app.register(scheduler, {
    routes: {
      onRequest: async (request, reply) => {
        expect(request.headers.authorization).type.toBe<string | undefined>()
        if (request.headers.authorization === undefined) await reply.code(401).send()
      },
      preHandler: [(request, reply, done) => { expect(done).type.not.toBe<any>(); done() }],
      actions: true
    }
  })
  app.register(scheduler, { routes: { preHandler: [async () => {}], actions: true, allowUnauthenticatedActions: true } })
})

test('wrong option types do not compile', () => {
  const app = Fastify()
  // Controls: the same calls with right values compile.
  expect(app.register).type.toBeCallableWith(scheduler, { timezone: 'UTC', autoStart: true, routes: { prefix: '/jobs' } })
  expect(app.register).type.toBeCallableWith(scheduler, { jobs: [{ id: 'x', trigger: { interval: 1000 }, handler: () => {} }, new (class {})()] })
  expect(app.register).type.not.toBeCallableWith(scheduler, { timezone: 1 })
  expect(app.register).type.not.toBeCallableWith(scheduler, { autoStart: 'yes' })
  expect(app.register).type.not.toBeCallableWith(scheduler, { shutdownTimeout: '10s' })
  expect(app.register).type.not.toBeCallableWith(scheduler, { defaults: { maxInstances: '2' } })
  expect(app.register).type.not.toBeCallableWith(scheduler, { defaults: { retries: 3 } })
  expect(app.register).type.not.toBeCallableWith(scheduler, { routes: true })
  expect(app.register).type.not.toBeCallableWith(scheduler, { routes: { prefix: 5 } })
  expect(app.register).type.not.toBeCallableWith(scheduler, { routes: { actions: 'yes' } })
  expect(app.register).type.not.toBeCallableWith(scheduler, { routes: { onRequest: 'auth' } })
  expect(app.register).type.not.toBeCallableWith(scheduler, { clock: { now: () => 0 } })
  expect(app.register).type.not.toBeCallableWith(scheduler, { store: { url: 'redis://' } })
  expect(app.register).type.not.toBeCallableWith(scheduler, { jobs: {} })
  expect(app.register).type.not.toBeCallableWith(scheduler, { jobs: ['cleanup'] })
  // An entry with a handler or a trigger is a job definition, and must be a valid one.
  expect(app.register).type.not.toBeCallableWith(scheduler, { jobs: [{ id: 'x', trigger: { interval: 1000 }, handler: 'run' }] })
  expect(app.register).type.not.toBeCallableWith(scheduler, { jobs: [{ id: 'x', trigger: { cron: 5 }, handler: () => {} }] })
  expect(app.register).type.not.toBeCallableWith(scheduler, { jobs: [{ trigger: { interval: 1000 }, handler: () => {} }] })
  expect<SchedulerOptions>().type.not.toBeAssignableFrom({ timezone: 'UTC', autostart: false })
  expect<RoutesOptions>().type.not.toBeAssignableFrom({ prefix: '/jobs', action: true })
})

test('app.scheduler is typed after register', () => {
  const app = Fastify()
  expect(app.scheduler).type.toBe<BoundScheduler<FastifyInstance>>()
  expect(app.scheduler.state).type.toBe<SchedulerState>()
  expect(app.scheduler.getJob('x')).type.toBe<JobStatus | undefined>()
  expect(app.scheduler.getJobs()).type.toBe<JobStatus[]>()
  expect(app.scheduler.runJob('x')).type.toBe<Promise<RunResult>>()
  expect(app.scheduler.startRun('x').runId).type.toBe<string | null>()
  expect(app.scheduler.addJobsFrom(new (class {})())).type.toBe<JobStatus[]>()
  expect(app.scheduler.on('job:success', (event) => { expect(event.durationMs).type.toBe<number>() })).type.toBe<BoundScheduler<FastifyInstance>>()
  expect(app.scheduler.shutdown()).type.toBe<Promise<void>>()
  app.register(async (child) => {
    expect(child.scheduler).type.toBe<BoundScheduler<FastifyInstance>>()
  })
})

test('handlers get the instance as ctx.fastify and this, and their data typed', () => {
  const app = Fastify()
  app.scheduler.addJob({
    id: 'typed',
    trigger: { interval: 1000 },
    data: { to: 'ops@example.com', retries: 3 },
    handler (ctx) {
      expect(ctx.data).type.toBe<{ to: string, retries: number }>()
      expect(ctx.fastify).type.toBe<FastifyInstance>()
      expect(this).type.toBe<FastifyInstance>()
      expect(ctx.signal).type.toBe<AbortSignal>()
      expect(ctx.scheduledAt).type.toBe<Date>()
    }
  })
  expect(app.scheduler.addJob).type.not.toBeCallableWith({ id: 'x', trigger: { interval: 1000 }, data: 5, handler: (ctx: JobContext<string>) => {} })
  expect(app.scheduler.addJob).type.not.toBeCallableWith({ id: 'x', trigger: { every: 1000 }, handler: () => {} })
  expect(app.scheduler.addJob).type.not.toBeCallableWith({ id: 'x', trigger: { interval: 1000 }, handler: () => {}, maxInstances: '1' })
})

test('JobContext<T> carries data: T', () => {
  expect<JobContext<{ n: number }>['data']>().type.toBe<{ n: number }>()
  expect<JobContext['data']>().type.toBe<unknown>()
  expect<JobContext<string, FastifyInstance>['fastify']>().type.toBe<FastifyInstance>()
  // A handler written against JobContext<T> fits a job whose data is T.
  const send = async (ctx: JobContext<{ to: string }>): Promise<void> => {}
  const app = Fastify()
  expect(app.scheduler.addJob).type.toBeCallableWith({ id: 'mail', trigger: { cron: '0 6 * * *' }, data: { to: 'x' }, handler: send })
})
