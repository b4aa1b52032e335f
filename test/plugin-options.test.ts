import t from 'tap'
import Fastify from 'fastify'
import fastifyScheduler, { type SchedulerOptions } from '../lib/index.js'
import { DEFAULT_PREFIX, resolveOptions } from '../lib/options.js'
import { ManualClock } from './helpers/fake-clock.js'

const handler = (): void => {}
const hook = async (): Promise<void> => {}

/** Registers the plugin with `options` as they are (no defaults added) and returns the app. */
function register (options: unknown): ReturnType<typeof Fastify> {
  const app = Fastify()
  app.register(fastifyScheduler, options as SchedulerOptions)
  return app
}

// [option as named in the error, options, what the message says about it]
const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
  ['unknown option', { autostart: false }, /Invalid option autostart false: unknown option; known: timezone, jobs/],
  ['timezone', { timezone: 'Mars/Olympus_Mons' }, /Invalid option timezone "Mars\/Olympus_Mons": expected an IANA zone/],
  ['timezone', { timezone: 5 }, /Invalid option timezone 5/],
  ['jobs', { jobs: { id: 'x' } }, /Invalid option jobs \{"id":"x"\}: expected an array/],
  ['jobs entry', { jobs: [null] }, /Invalid option jobs\[0\] null: expected a job definition/],
  ['jobs entry', { jobs: [{ id: 'ok', trigger: { interval: 1000 }, handler }, 'cleanup'] }, /Invalid option jobs\[1\] "cleanup"/],
  ['jobs entry', { jobs: [[]] }, /Invalid option jobs\[0\] \[\]/],
  ['autoStart', { autoStart: 'yes' }, /Invalid option autoStart "yes": must be a boolean/],
  ['shutdownTimeout', { shutdownTimeout: -1 }, /Invalid option shutdownTimeout -1: must be a finite number/],
  ['shutdownTimeout', { shutdownTimeout: '10s' }, /Invalid option shutdownTimeout "10s"/],
  ['defaults', { defaults: null }, /Invalid option defaults null: expected an object/],
  ['defaults', { defaults: { maxInstances: 0 } }, /Invalid option defaults\.maxInstances 0: must be an integer >= 1/],
  ['defaults', { defaults: { retries: 3 } }, /Invalid option defaults\.retries 3: unknown job option/],
  ['routes', { routes: true }, /Invalid option routes true: expected false or \{ prefix/],
  ['routes', { routes: '/jobs' }, /Invalid option routes "\/jobs"/],
  ['routes', { routes: { prefx: '/x' } }, /Invalid option routes\.prefx "\/x": unknown option; known: prefix/],
  ['routes.prefix', { routes: { prefix: 'jobs' } }, /Invalid option routes\.prefix "jobs": must be a path starting with "\/"/],
  ['routes.prefix', { routes: { prefix: 5 } }, /Invalid option routes\.prefix 5/],
  ['routes.onRequest', { routes: { onRequest: 'auth' } }, /Invalid option routes\.onRequest "auth": must be a function/],
  ['routes.preHandler', { routes: { preHandler: [hook, null] } }, /Invalid option routes\.preHandler\[1\] null: must be a function/],
  ['routes.actions', { routes: { actions: 'yes' } }, /Invalid option routes\.actions "yes": must be a boolean/],
  ['routes.allowUnauthenticatedActions', { routes: { allowUnauthenticatedActions: 1 } }, /Invalid option routes\.allowUnauthenticatedActions 1: must be a boolean/],
  ['routes.actions', { routes: { actions: true } }, /Invalid option routes\.actions true: the POST routes need an onRequest or preHandler hook/],
  ['routes.actions', { routes: { actions: true, onRequest: [] } }, /Invalid option routes\.actions true/],
  ['store', { store: { get () {} } }, /Invalid option store \{\}: expected a Store, such as postgresStore/],
  ['store', { store: 'redis' }, /Invalid option store "redis"/],
  ['clock', { clock: { now: Date.now } }, /Invalid option clock .*expected \{ now\(\), setTimeout/],
  ['clock', { clock: null }, /Invalid option clock null/]
]

for (const [name, options, message] of invalid) {
  t.test(`a bad ${name} fails app.ready(): ${JSON.stringify(options)}`, async (t) => {
    const app = register(options)
    await t.rejects(app.ready(), { code: 'FST_SCHEDULER_INVALID_OPTION', message })
    t.notOk(app.hasDecorator('scheduler'), 'nothing decorated')
  })
}

t.test('an invalid timezone keeps the zone error as its cause', async (t) => {
  const err = await register({ timezone: 'Nowhere/Land' }).ready().catch((err: unknown) => err)
  t.match(err, { code: 'FST_SCHEDULER_INVALID_OPTION', cause: { code: 'FST_SCHEDULER_INVALID_TIMEZONE' } })
})

t.test('options that are not an object are refused', async (t) => {
  for (const options of [null, 'x', [], 5]) {
    t.throws(() => resolveOptions(options), { code: 'FST_SCHEDULER_INVALID_OPTION', message: /Invalid option options .*: expected an object/ })
  }
})

t.test('bad jobs fail app.ready() with the job error', async (t) => {
  const cases: Array<[unknown[], string, RegExp]> = [
    [[{ id: 'x', trigger: { cron: 'every day' }, handler }], 'FST_SCHEDULER_INVALID_TRIGGER', /Job "x"/],
    [[{ id: 'x', trigger: { cron: '0 0 30 2 *' }, handler }], 'FST_SCHEDULER_INVALID_TRIGGER', /Job "x"/],
    [[{ id: 'x', trigger: { interval: 1000 }, handler: 'run' }], 'FST_SCHEDULER_INVALID_JOB', /Job "x": invalid handler "run"/],
    [[{ id: 'x', handler }], 'FST_SCHEDULER_INVALID_JOB', /Job "x": invalid trigger undefined: is required/],
    [[{ trigger: { interval: 1000 }, handler }], 'FST_SCHEDULER_INVALID_JOB', /Invalid job id undefined/],
    [[{ id: 'x', trigger: { interval: 1000 }, handler, maxInstances: 0 }], 'FST_SCHEDULER_INVALID_JOB', /maxInstances 0/],
    [[{ id: 'x', trigger: { interval: 1000 }, handler }, { id: 'x', trigger: { interval: 1000 }, handler }], 'FST_SCHEDULER_DUPLICATE_JOB', /"x" exists already/]
  ]
  for (const [jobs, code, message] of cases) {
    const app = register({ jobs })
    await t.rejects(app.ready(), { code, message }, JSON.stringify(jobs))
  }
})

t.test('valid options are accepted, with the defaults filled in', async (t) => {
  const clock = new ManualClock()
  const app = register({
    timezone: 'Europe/Berlin',
    jobs: [],
    autoStart: false,
    shutdownTimeout: 0,
    defaults: { maxInstances: 2, coalesce: false, misfireGraceTime: null, timeout: 5000 },
    routes: { prefix: '/admin/jobs', onRequest: hook, preHandler: [hook], actions: true },
    store: undefined,
    clock
  })
  await app.ready()
  t.equal(app.scheduler.state, 'stopped')
  await app.close()

  const resolved = resolveOptions({})
  t.same(resolved, {
    core: { timezone: undefined, clock: undefined, defaults: undefined, shutdownTimeout: undefined },
    jobs: [],
    autoStart: true,
    routes: { prefix: DEFAULT_PREFIX, onRequest: [], preHandler: [], actions: false }
  })
  t.equal(DEFAULT_PREFIX, '/jobs')
  t.same(resolveOptions({ routes: false }).routes, false)
  t.same(resolveOptions({ routes: {} }).routes, { prefix: '/jobs', onRequest: [], preHandler: [], actions: false })
  t.same(resolveOptions({ routes: { actions: true, allowUnauthenticatedActions: true } }).routes, { prefix: '/jobs', onRequest: [], preHandler: [], actions: true })
})

t.test("Fastify's own register options pass", async (t) => {
  const app = register({ prefix: '/ignored', logLevel: 'warn', logSerializers: {} })
  await app.ready()
  t.ok(app.hasDecorator('scheduler'))
  await app.close()
})
