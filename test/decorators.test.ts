import t from 'tap'
import { At, Cron, Interval, declareJobs, jobsOf } from '../lib/decorators.js'
import { Scheduler } from '../lib/scheduler.js'
import { harness, iso } from './helpers/scheduler.js'
import type { JobContext, JobDefinition } from '../lib/job.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** A definition without its handler (functions don't compare). */
const plain = ({ handler, ...rest }: JobDefinition): Omit<JobDefinition, 'handler'> => rest

t.test('compiled as TC39 decorators, with decorator metadata', async (t) => {
  class Probe {
    @Interval(1000) tick (): void {}
  }
  t.equal(typeof (Symbol as unknown as { metadata: symbol }).metadata, 'symbol', 'Symbol.metadata is defined (polyfilled on Node 20)')
  t.equal((Symbol as unknown as { metadata: symbol }).metadata, Symbol.for('Symbol.metadata'), 'as the symbol esbuild and Babel fall back to')
  t.ok(Object.hasOwn(Probe, Symbol.for('Symbol.metadata')), 'the class got its metadata object')
})

t.test('the API.md example: default ids, triggers, `this` bound to the object', async (t) => {
  class Maintenance {
    runs: string[] = []
    @Cron('0 3 * * *', { id: 'vacuum', timezone: 'UTC' }) async vacuum (ctx: JobContext): Promise<void> { this.runs.push(`vacuum ${iso(ctx.scheduledAt)}`) }
    @Interval({ minutes: 1 }) async heartbeat (ctx: JobContext): Promise<void> { this.runs.push(`heartbeat ${ctx.id}`) }
    @At('2026-01-05T12:00:00Z') async launch (): Promise<string> { this.runs.push('launch'); return 'launched' }
  }
  const { scheduler, clock, of } = harness()
  const maintenance = new Maintenance()
  const statuses = scheduler.addJobsFrom(maintenance)
  t.same(statuses.map((s) => s.id), ['vacuum', 'Maintenance.heartbeat', 'Maintenance.launch'])
  t.same(statuses.map((s) => s.name), ['vacuum', 'Maintenance.heartbeat', 'Maintenance.launch'], 'name defaults to the id')
  t.same(statuses.map((s) => s.trigger.type), ['cron', 'interval', 'date'])
  scheduler.start()
  await clock.tick(DAY)
  t.equal(maintenance.runs.filter((r) => r.startsWith('heartbeat')).length, 24 * 60)
  t.ok(maintenance.runs.every((r) => !r.startsWith('heartbeat') || r === 'heartbeat Maintenance.heartbeat'))
  t.same(maintenance.runs.filter((r) => !r.startsWith('heartbeat')), ['vacuum 2026-01-05T03:00:00.000Z', 'launch'])
  t.equal(of('job:success').find((e) => e.id === 'Maintenance.launch')?.result, 'launched')
  t.equal(of('job:error').length, 0)
})

t.test('`this` is the object even when the scheduler has a context; ctx.fastify is still the context', async (t) => {
  class Jobs {
    seen: unknown[] = []
    @Interval(1000) tick (ctx: JobContext<unknown, { app: string }>): void { this.seen.push(this, ctx.fastify) }
  }
  const { scheduler } = harness()
  const jobs = new Jobs()
  scheduler.addJobsFrom(jobs)
  await scheduler.runJob('Jobs.tick')
  t.equal(jobs.seen[0], jobs)
  t.same(jobs.seen[1], { app: 'owner' })
})

t.test('every option reaches the job definition and the trigger', async (t) => {
  class AllOptions {
    @Cron('0 6 * * 1-5', {
      id: 'report',
      name: 'Weekday report',
      data: { to: 'ops' },
      maxInstances: 2,
      coalesce: false,
      misfireGraceTime: 5000,
      timeout: 60_000,
      paused: true,
      replaceExisting: true,
      timezone: 'Europe/Berlin',
      startAt: '2026-02-01T00:00:00Z',
      endAt: '2026-12-31T00:00:00Z',
      jitter: 100
    })
    report (): void {}

    @Interval(30_000, { immediate: true, startAt: '2026-01-05T00:00:00Z', endAt: '2026-01-06T00:00:00Z', jitter: 10, misfireGraceTime: null, timeout: null })
    poll (): void {}

    @At(Date.UTC(2026, 0, 6), { jitter: 5, data: 42 })
    once (): void {}
  }
  t.same(jobsOf(new AllOptions()).map(plain), [
    {
      id: 'report',
      name: 'Weekday report',
      data: { to: 'ops' },
      maxInstances: 2,
      coalesce: false,
      misfireGraceTime: 5000,
      timeout: 60_000,
      paused: true,
      replaceExisting: true,
      trigger: { cron: '0 6 * * 1-5', timezone: 'Europe/Berlin', startAt: '2026-02-01T00:00:00Z', endAt: '2026-12-31T00:00:00Z', jitter: 100 }
    },
    {
      id: 'AllOptions.poll',
      misfireGraceTime: null,
      timeout: null,
      trigger: { interval: 30_000, immediate: true, startAt: '2026-01-05T00:00:00Z', endAt: '2026-01-06T00:00:00Z', jitter: 10 }
    },
    { id: 'AllOptions.once', data: 42, trigger: { at: Date.UTC(2026, 0, 6), jitter: 5 } }
  ])

  const { scheduler } = harness()
  const [report, poll, once] = scheduler.addJobsFrom(new AllOptions())
  t.match(report, { id: 'report', name: 'Weekday report', paused: true, trigger: { timezone: 'Europe/Berlin', startAt: '2026-02-01T00:00:00.000Z', endAt: '2026-12-31T00:00:00.000Z', jitter: 100 } })
  t.match(poll, { paused: false, trigger: { type: 'interval', immediate: true, jitter: 10 } })
  t.match(once, { trigger: { type: 'date', at: '2026-01-06T00:00:00.000Z', jitter: 5 } })
})

t.test('options are honoured when the jobs run', async (t) => {
  class Options {
    data: unknown[] = []
    running = 0
    maxSeen = 0
    @Interval(MINUTE, { data: { n: 1 }, maxInstances: 2, timeout: 150_000 })
    async slow (ctx: JobContext<{ n: number }>): Promise<void> {
      this.data.push(ctx.data.n)
      this.running++
      this.maxSeen = Math.max(this.maxSeen, this.running)
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()))
      this.running--
    }

    @Interval(MINUTE, { immediate: true, paused: true }) later (): void {}
  }
  const { scheduler, clock, of } = harness()
  const object = new Options()
  scheduler.addJobsFrom(object)
  scheduler.start()
  await clock.tick(3 * MINUTE)
  t.same(object.data, [1, 1], 'data')
  t.equal(object.maxSeen, 2, 'maxInstances: 2')
  t.same(of('job:skipped').map((e) => e.reason), ['max-instances'])
  await clock.tick(MINUTE / 2)
  t.same(of('job:error').map((e) => e.status), ['timeout'], 'timeout: 150 s')
  t.equal(object.running, 1)
  t.equal(scheduler.getJob('Options.later')?.paused, true)
  t.equal(scheduler.getJob('Options.later')?.nextRunAt, null)
  const closed = scheduler.shutdown()
  await clock.tick(10_000)
  await closed
})

t.test('a method decorated twice gets two jobs; only one may take the default id', async (t) => {
  class Twice {
    calls: string[] = []
    @Cron('0 12 * * *', { id: 'noon' })
    @Interval(HOUR)
    work (ctx: JobContext): void { this.calls.push(ctx.id) }
  }
  const { scheduler, clock } = harness()
  const twice = new Twice()
  t.same(scheduler.addJobsFrom(twice).map((s) => s.id).sort(), ['Twice.work', 'noon'])
  scheduler.start()
  await clock.tick(12 * HOUR)
  t.equal(twice.calls.filter((id) => id === 'Twice.work').length, 12)
  t.same(twice.calls.filter((id) => id === 'noon'), ['noon'])

  t.throws(() => {
    class Clash {
      @Cron('0 12 * * *') @Interval(HOUR) work (): void {}
    }
    return Clash
  }, { code: 'FST_SCHEDULER_INVALID_JOB', message: '@Cron on method work: the method is decorated more than once without an id; give all but one of its decorators an explicit id' })

  class Explicit {
    @At('2026-02-01T00:00:00Z', { id: 'a' }) @At('2026-03-01T00:00:00Z', { id: 'b' }) work (): void {}
  }
  t.same(jobsOf(new Explicit()).map((d) => d.id).sort(), ['a', 'b'], 'explicit ids on both are fine too')
})

t.test('two methods declaring the same id fail as a whole', async (t) => {
  class Same {
    @Interval(1000, { id: 'x' }) a (): void {}
    @Interval(1000, { id: 'x' }) b (): void {}
  }
  class DefaultClash {
    @Interval(1000, { id: 'DefaultClash.b' }) a (): void {}
    @Interval(1000) b (): void {}
  }
  t.throws(() => jobsOf(new Same()), { code: 'FST_SCHEDULER_INVALID_JOB', message: 'Two decorated methods of Same declare the job id "x"; give one another id' })
  const { scheduler } = harness()
  t.throws(() => scheduler.addJobsFrom(new DefaultClash()), { code: 'FST_SCHEDULER_INVALID_JOB', message: /"DefaultClash\.b"/ })
  t.same(scheduler.getJobs(), [], 'nothing added')
})

t.test('inherited decorated methods; ids use the object\'s own class', async (t) => {
  class Base {
    calls: string[] = []
    @Interval(HOUR) tick (): void { this.calls.push(`Base.tick on ${this.constructor.name}`) }
    @Cron('0 0 * * *') nightly (): void { this.calls.push('Base.nightly') }
    @At('2026-01-05T06:00:00Z') once (): void { this.calls.push('Base.once') }
  }
  class Plain extends Base {}
  class Derived extends Base {
    @Interval(2 * HOUR) extra (): void { this.calls.push('Derived.extra') }
    // Overridden without a decorator: the schedule stays, the override runs.
    override tick (): void { this.calls.push('Derived.tick') }
    // Decorated again: these declarations replace Base's for this method.
    @Cron('0 12 * * *') override nightly (): void { this.calls.push('Derived.nightly') }
  }

  t.same(jobsOf(new Plain()).map(plain), [
    { id: 'Plain.tick', trigger: { interval: HOUR } },
    { id: 'Plain.nightly', trigger: { cron: '0 0 * * *' } },
    { id: 'Plain.once', trigger: { at: '2026-01-05T06:00:00Z' } }
  ], 'a subclass without decorators inherits every declaration')
  t.same(jobsOf(new Derived()).map(plain), [
    { id: 'Derived.tick', trigger: { interval: HOUR } },
    { id: 'Derived.nightly', trigger: { cron: '0 12 * * *' } },
    { id: 'Derived.once', trigger: { at: '2026-01-05T06:00:00Z' } },
    { id: 'Derived.extra', trigger: { interval: 2 * HOUR } }
  ])
  t.same(jobsOf(new Base()).map((d) => d.id), ['Base.tick', 'Base.nightly', 'Base.once'], 'the subclass does not change its parent')

  const { scheduler, clock } = harness()
  const derived = new Derived()
  scheduler.addJobsFrom(derived)
  scheduler.start()
  await clock.tick(12 * HOUR)
  t.equal(derived.calls.filter((c) => c === 'Derived.tick').length, 12, 'the override runs on the inherited schedule')
  t.equal(derived.calls.filter((c) => c === 'Derived.extra').length, 6)
  t.same(derived.calls.filter((c) => !['Derived.tick', 'Derived.extra'].includes(c)), ['Base.once', 'Derived.nightly'])

  const plainObject = new Plain()
  await jobsOf(plainObject)[0].handler.call(undefined, {} as never)
  t.same(plainObject.calls, ['Base.tick on Plain'], 'the inherited method runs on the subclass instance')
})

t.test('private methods can be decorated', async (t) => {
  class Secret {
    calls = 0
    @Interval(1000) #tick (): void { this.calls++ }
  }
  const { scheduler } = harness()
  const secret = new Secret()
  t.same(scheduler.addJobsFrom(secret).map((s) => s.id), ['Secret.#tick'])
  await scheduler.runJob('Secret.#tick')
  t.equal(secret.calls, 1)

  class Base {
    @Interval(1000, { id: 'base' }) #tick (): void {}
  }
  class Derived extends Base {
    @Interval(1000, { id: 'derived' }) #tick (): void {}
  }
  t.same(jobsOf(new Derived()).map((d) => d.id), ['base', 'derived'], 'private names of two classes are two methods')
})

t.test('static methods are refused where they are declared', async (t) => {
  t.throws(() => {
    class Static {
      @Interval(1000) static tick (): void {}
    }
    return Static
  }, { code: 'FST_SCHEDULER_INVALID_JOB', message: '@Interval on method tick: static methods are not supported; decorate an instance method and hand an instance to addJobsFrom' })
})

t.test('bad options fail where the class is declared', async (t) => {
  const cases: Array<[() => unknown, RegExp | string]> = [
    [() => { class C { @Cron('* * * * *', { immediate: true } as never) m (): void {} } return C }, '@Cron on method m: unknown option "immediate"; known: id, name, data, maxInstances, coalesce, misfireGraceTime, timeout, onLost, paused, replaceExisting, timezone, startAt, endAt, jitter'],
    [() => { class C { @At(0, { startAt: 0 } as never) m (): void {} } return C }, /@At on method m: unknown option "startAt"; known: .*, jitter$/],
    [() => { class C { @Interval(1, { timezone: 'UTC' } as never) m (): void {} } return C }, /unknown option "timezone"; known: .*immediate, startAt, endAt, jitter$/],
    [() => { class C { @Interval(1, { handler: () => {} } as never) m (): void {} } return C }, /unknown option "handler"/],
    [() => { class C { @Interval(1, 'x' as never) m (): void {} } return C }, '@Interval on method m: options must be an object, got "x"'],
    [() => { class C { @Interval(1, [] as never) m (): void {} } return C }, /options must be an object, got \[\]/],
    [() => { class C { @Interval(1, { id: '' }) m (): void {} } return C }, '@Interval on method m: id "" must be a non-empty string'],
    [() => { class C { @Interval(1, { id: 5 } as never) m (): void {} } return C }, 'id 5 must be a non-empty string']
  ]
  for (const [declare, message] of cases) {
    t.throws(declare, { code: 'FST_SCHEDULER_INVALID_JOB', statusCode: 400, message })
  }
  const sym = Symbol('job')
  t.throws(() => { class C { @Interval(1, null as never) [sym] (): void {} } return C }, { message: '@Interval on method Symbol(job): options must be an object, got null' })
})

t.test('misuse from JS: no context, a field, a compiler without metadata', async (t) => {
  const decorate = Interval(1000) as unknown as (method: unknown, context?: unknown) => void
  const method = (): void => {}
  t.throws(() => decorate(method), { code: 'FST_SCHEDULER_INVALID_JOB', message: '@Interval on a non-method: decorates methods only' })
  t.throws(() => decorate(undefined, { kind: 'field', name: 'x' }), { message: '@Interval on method x: decorates methods only' })
  t.throws(() => decorate(method, { kind: 'method', name: 'x', static: false, private: false, metadata: undefined, access: { get: () => method } }), {
    message: '@Interval on method x: context.metadata is missing: compile with TypeScript >= 5.2 (or another compiler with decorator metadata), or use declareJobs()'
  })
})

t.test('values are checked by addJob, which adds all of an object\'s jobs or none', async (t) => {
  class Bad {
    @Interval(1000) good (): void {}
    @Cron('61 * * * *') bad (): void {}
  }
  const { scheduler, of } = harness()
  t.throws(() => scheduler.addJobsFrom(new Bad()), { code: 'FST_SCHEDULER_INVALID_TRIGGER' })
  t.same(scheduler.getJobs(), [], 'the job added before the failure is removed again')
  t.same(of('job:removed').map((e) => e.id), ['Bad.good'])

  class Options {
    @Interval(1000, { maxInstances: 0 }) m (): void {}
  }
  t.throws(() => scheduler.addJobsFrom(new Options()), { code: 'FST_SCHEDULER_INVALID_JOB', message: /maxInstances/ })
})

t.test('a taken id: duplicate error and rollback, unless replaceExisting', async (t) => {
  class Jobs {
    @Interval(1000) first (): void {}
    @Interval(1000, { id: 'taken' }) second (): void {}
  }
  class Replacing {
    @Interval(1000, { id: 'taken', replaceExisting: true }) second (): void {}
  }
  const { scheduler } = harness()
  scheduler.addJob({ id: 'taken', trigger: { interval: 5 }, handler: () => {} })
  t.throws(() => scheduler.addJobsFrom(new Jobs()), { code: 'FST_SCHEDULER_DUPLICATE_JOB' })
  t.same(scheduler.getJobs().map((s) => s.id), ['taken'], 'Jobs.first was rolled back; the existing job is untouched')
  t.match(scheduler.getJob('taken')?.trigger, { intervalMs: 5 })
  t.same(scheduler.addJobsFrom(new Replacing()).map((s) => s.id), ['taken'])
  t.match(scheduler.getJob('taken')?.trigger, { intervalMs: 1000 })
})

t.test('objects that declare nothing, and non-objects', async (t) => {
  const { scheduler } = harness()
  class Empty { m (): void {} }
  t.throws(() => scheduler.addJobsFrom(new Empty()), { code: 'FST_SCHEDULER_INVALID_JOB', statusCode: 400, message: 'addJobsFrom: the Empty object has no method decorated with @Cron, @Interval or @At' })
  t.throws(() => scheduler.addJobsFrom({}), { message: 'addJobsFrom: the Object object has no method decorated with @Cron, @Interval or @At' })
  t.throws(() => scheduler.addJobsFrom(Object.create(null) as object), { message: 'addJobsFrom: the object has no method decorated with @Cron, @Interval or @At' })
  t.throws(() => scheduler.addJobsFrom(new (class {})()), { message: 'addJobsFrom: the object has no method decorated with @Cron, @Interval or @At' })
  for (const value of [null, undefined, 5, 'jobs', () => {}]) {
    t.throws(() => scheduler.addJobsFrom(value as never), { code: 'FST_SCHEDULER_INVALID_JOB', message: /^addJobsFrom expects an object with decorated methods, got / })
    t.throws(() => jobsOf(value as never), { code: 'FST_SCHEDULER_INVALID_JOB', message: /^jobsOf expects an object, got / })
  }
  t.same(jobsOf(new Empty()), [])
  t.same(jobsOf({}), [])
})

t.test('anonymous classes need explicit ids; a method replaced by a non-function fails', async (t) => {
  const anonymous = new (class {
    @Interval(1000) m (): void {}
  })()
  t.throws(() => jobsOf(anonymous), { code: 'FST_SCHEDULER_INVALID_JOB', message: 'The decorated method m of an anonymous class needs an explicit id' })
  const named = new (class {
    @Interval(1000, { id: 'a' }) m (): void {}
    @Interval(1000, { id: 'a' }) n (): void {}
  })()
  t.throws(() => jobsOf(named), { message: 'Two decorated methods of an anonymous class declare the job id "a"; give one another id' })
  const fine = new (class {
    @Interval(1000, { id: 'anon' }) m (): void {}
  })()
  t.same(jobsOf(fine).map((d) => d.id), ['anon'])

  class Shadowed {
    @Interval(1000) m (): void {}
  }
  const shadowed = new Shadowed()
  Object.assign(shadowed, { m: 'not a function' })
  t.throws(() => jobsOf(shadowed), { code: 'FST_SCHEDULER_INVALID_JOB', message: 'Job "Shadowed.m": m is not a function on the object ("not a function")' })
})

t.test('jobsOf returns fresh definitions: mutating them changes no declaration', async (t) => {
  class Jobs {
    @Cron('0 * * * *', { timezone: 'UTC' }) m (): void {}
  }
  const [first] = jobsOf(new Jobs())
  ;(first.trigger as { cron: string }).cron = 'changed'
  first.id = 'changed'
  t.same(plain(jobsOf(new Jobs())[0]), { id: 'Jobs.m', trigger: { cron: '0 * * * *', timezone: 'UTC' } })
})

t.test('declareJobs on a TypeScript class adds to its decorated ones', async (t) => {
  class Base {
    calls: string[] = []
    @Interval(1000) a (): void { this.calls.push('a') }
    b (): void { this.calls.push('b') }
  }
  class Derived extends Base {
    c (): void { this.calls.push('c') }
  }
  t.equal(declareJobs(Derived, { b: Interval(2000), c: [Cron('0 * * * *'), At(0, { id: 'c-once' })] }), Derived, 'returns the class')
  t.same(jobsOf(new Derived()).map(plain), [
    { id: 'Derived.a', trigger: { interval: 1000 } },
    { id: 'Derived.b', trigger: { interval: 2000 } },
    { id: 'Derived.c', trigger: { cron: '0 * * * *' } },
    { id: 'c-once', trigger: { at: 0 } }
  ])
  t.same(jobsOf(new Base()).map((d) => d.id), ['Base.a'], 'the parent is unchanged')
  declareJobs(Base, { b: Interval(3000) })
  t.same(jobsOf(new Base()).map(plain), [{ id: 'Base.a', trigger: { interval: 1000 } }, { id: 'Base.b', trigger: { interval: 3000 } }], 'a class with its own metadata gets it added to')
  t.same(jobsOf(new Derived()).map((d) => d.trigger), [{ interval: 1000 }, { interval: 2000 }, { cron: '0 * * * *' }, { at: 0 }], 'Derived\'s own declaration of b still wins')

  const { scheduler } = harness()
  const derived = new Derived()
  scheduler.addJobsFrom(derived)
  await scheduler.runJob('Derived.b')
  await scheduler.runJob('c-once')
  t.same(derived.calls, ['b', 'c'])
})

t.test('declareJobs errors', async (t) => {
  class Jobs { m (): void {} }
  const bad: Array<[() => unknown, string]> = [
    [() => declareJobs(null as never, {}), 'declareJobs expects a class, got null'],
    [() => declareJobs((() => {}) as never, {}), 'declareJobs expects a class, got function (anonymous)'],
    [() => declareJobs(Jobs, null as never), 'declareJobs expects { methodName: Cron(...) | [Cron(...), ...] }, got null'],
    [() => declareJobs(Jobs, { nope: Interval(1) } as never), 'declareJobs: Jobs has no method nope'],
    [() => declareJobs(class { x = 1 }, { x: Interval(1) } as never), 'declareJobs: the class has no method x'],
    [() => declareJobs(Jobs, { m: 'Interval(1)' } as never), 'declareJobs: m expects Cron(...), Interval(...) or At(...), got "Interval(1)"'],
    [() => declareJobs(Jobs, { m: [Interval(1), Interval(2)] }), '@Interval on method m: the method is decorated more than once without an id; give all but one of its decorators an explicit id']
  ]
  for (const [call, message] of bad) t.throws(call, { code: 'FST_SCHEDULER_INVALID_JOB', message })
})

t.test('a Scheduler without harness: addJobsFrom returns the statuses in order', async (t) => {
  class One {
    @Interval(1000) only (): void {}
  }
  const scheduler = new Scheduler({ timezone: 'UTC' })
  const statuses = scheduler.addJobsFrom(new One())
  t.same(statuses, [scheduler.getJob('One.only')])
})
