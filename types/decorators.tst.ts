import { expect, test } from 'tstyche'
import { At, Cron, Interval, declareJobs, jobsOf } from 'fastify-scheduler'
import type { AtOptions, CronOptions, IntervalOptions, JobDecorator, JobContext, JobDefinition } from 'fastify-scheduler'

test('decorators accept methods taking a JobContext, or nothing', () => {
  class Jobs {
    count = 0
    @Cron('0 3 * * *', { id: 'vacuum', timezone: 'UTC' }) async vacuum (ctx: JobContext): Promise<void> { this.count += ctx.runId.length }
    @Interval({ minutes: 1 }) heartbeat (): number { return this.count }
    @At('2026-12-01T00:00:00Z') launch (): void {}
    @Interval(1000) withOwner (ctx: JobContext<unknown, { app: string }>): string { return ctx.fastify.app }
    @Interval(1000) #secret (): void {}
  }
  expect(jobsOf(new Jobs())).type.toBe<JobDefinition[]>()
})

test('the data option types ctx.data', () => {
  class Jobs {
    @Interval(1000, { data: { to: 'ops' } }) send (ctx: JobContext<{ to: string }>): string { return ctx.data.to }
  }
  expect(Jobs).type.not.toBe<never>()

  expect(Interval(1000, { data: { to: 'ops' } })).type.toBe<JobDecorator<{ to: string }>>()
  expect(Interval(1000)).type.toBe<JobDecorator<unknown>>()
})

test('methods with other parameters do not compile', () => {
  expect(class {
    // @ts-expect-error Unable to resolve signature of method decorator
    @Interval(1000) bad (x: number): number { return x }
  }).type.not.toBe<never>()
  expect(class {
    // @ts-expect-error Unable to resolve signature of method decorator
    @Cron('* * * * *') bad (ctx: JobContext, extra: string): string { return extra + ctx.id }
  }).type.not.toBe<never>()
  expect(class {
    // No data option, so ctx.data is no { to: string }:
    // @ts-expect-error Unable to resolve signature of method decorator
    @At(0) bad (ctx: JobContext<{ to: string }>): string { return ctx.data.to }
  }).type.not.toBe<never>()
  expect(class {
    // Data of another type:
    // @ts-expect-error Unable to resolve signature of method decorator
    @Interval(1, { data: { to: 1 } }) bad (ctx: JobContext<{ to: string }>): string { return ctx.data.to }
  }).type.not.toBe<never>()
  expect(class {
    // A field is not a method:
    // @ts-expect-error Unable to resolve signature of property decorator
    @Interval(1) field = (): void => {}
  }).type.not.toBe<never>()
})

test('options are typed per decorator', () => {
  expect(Cron).type.toBeCallableWith('* * * * *', {
    id: 'a',
    name: 'A',
    data: 1,
    maxInstances: 2,
    coalesce: false,
    misfireGraceTime: null,
    timeout: 1000,
    paused: true,
    replaceExisting: true,
    timezone: 'UTC',
    startAt: new Date(),
    endAt: '2027-01-01T00:00:00Z',
    jitter: 5
  })
  expect(Interval).type.toBeCallableWith('PT30S', { immediate: true, startAt: 0, endAt: 1, jitter: 1, timeout: null })
  expect(Interval).type.toBeCallableWith({ hours: 1 })
  expect(At).type.toBeCallableWith(new Date(), { jitter: 5, id: 'once' })
  expect(At).type.toBeCallableWith(Date.now())

  expect(Cron).type.not.toBeCallableWith(5)
  expect(Cron).type.not.toBeCallableWith('* * * * *', { immediate: true })
  expect(Cron).type.not.toBeCallableWith('* * * * *', { trigger: { cron: '* * * * *' } })
  expect(Cron).type.not.toBeCallableWith('* * * * *', { handler: () => {} })
  expect(Cron).type.not.toBeCallableWith('* * * * *', { maxInstances: '2' })
  expect(Interval).type.not.toBeCallableWith(1000, { timezone: 'UTC' })
  expect(Interval).type.not.toBeCallableWith({ months: 1 })
  expect(At).type.not.toBeCallableWith(new Date(), { startAt: 0 })
  expect(At).type.not.toBeCallableWith(new Date(), { immediate: true })
  expect<CronOptions>().type.toBeAssignableFrom({ timezone: 'Europe/Berlin' })
  expect<IntervalOptions>().type.not.toBeAssignableFrom({ id: 1 })
  expect<AtOptions>().type.not.toBeAssignableFrom({ paused: 'yes' })
})

test('declareJobs takes the class and its method names', () => {
  class Jobs {
    tick (): void {}
    other (): void {}
  }
  expect(declareJobs(Jobs, { tick: Interval(1000), other: [Cron('* * * * *'), At(0, { id: 'x' })] })).type.toBe<typeof Jobs>()
  expect(declareJobs).type.toBeCallableWith(Jobs, { tick: Interval(1000, { data: { n: 1 } }) })
  expect(declareJobs).type.not.toBeCallableWith(Jobs, { nope: Interval(1000) })
  expect(declareJobs).type.not.toBeCallableWith({}, { tick: Interval(1000) })
})
