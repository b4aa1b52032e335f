// Plain JS, as Node runs it: no decorator syntax, so jobs are declared with
// declareJobs(Class, { method: Cron(...) | [Cron(...), ...] }).
import t from 'tap'
import { At, Cron, Interval, declareJobs, jobsOf } from '../lib/decorators.js'
import { harness } from './helpers/scheduler.js'

const HOUR = 3_600_000

class Maintenance {
  constructor () {
    this.runs = []
  }

  vacuum (ctx) { this.runs.push(`vacuum ${ctx.id}`) }
  heartbeat (ctx) { this.runs.push(`heartbeat ${ctx.data.n}`) }
  launch () { this.runs.push('launch') }
}

declareJobs(Maintenance, {
  vacuum: Cron('0 3 * * *', { id: 'vacuum', timezone: 'UTC' }),
  heartbeat: Interval({ hours: 1 }, { data: { n: 7 } }),
  launch: [At('2026-01-05T12:00:00Z'), At('2026-01-06T12:00:00Z', { id: 'relaunch' })]
})

t.test('declareJobs in plain JS: default ids, this bound, options, two declarations', async (t) => {
  const { scheduler, clock } = harness()
  const maintenance = new Maintenance()
  t.same(scheduler.addJobsFrom(maintenance).map((s) => s.id), ['vacuum', 'Maintenance.heartbeat', 'Maintenance.launch', 'relaunch'])
  scheduler.start()
  await clock.tick(2 * 24 * HOUR)
  t.equal(maintenance.runs.filter((r) => r === 'heartbeat 7').length, 48)
  t.same(maintenance.runs.filter((r) => !r.startsWith('heartbeat')), ['vacuum vacuum', 'launch', 'vacuum vacuum', 'launch'])
})

t.test('a JS subclass inherits the declarations and can add its own', async (t) => {
  class Nightly extends Maintenance {
    report () { this.runs.push('report') }
  }
  t.equal(declareJobs(Nightly, { report: Cron('0 0 * * *') }), Nightly)
  t.same(jobsOf(new Nightly()).map((d) => d.id), ['vacuum', 'Nightly.heartbeat', 'Nightly.launch', 'relaunch', 'Nightly.report'])
  const { scheduler } = harness()
  const nightly = new Nightly()
  scheduler.addJobsFrom(nightly)
  await scheduler.runJob('Nightly.report')
  await scheduler.runJob('Nightly.heartbeat')
  t.same(nightly.runs, ['report', 'heartbeat 7'])
})

t.test('JS gets the same checks as TypeScript', async (t) => {
  class Jobs { work () {} }
  t.throws(() => declareJobs(Jobs, { work: Cron('* * * * *', { immediate: true }) }), { code: 'FST_SCHEDULER_INVALID_JOB', message: /unknown option "immediate"/ })
  t.throws(() => declareJobs(Jobs, { work: Cron }), { code: 'FST_SCHEDULER_INVALID_JOB', message: 'declareJobs: work expects Cron(...), Interval(...) or At(...), got function Cron' }, 'Cron itself instead of Cron(...)')
  t.throws(() => harness().scheduler.addJobsFrom(new Jobs()), { code: 'FST_SCHEDULER_INVALID_JOB', message: 'addJobsFrom: the Jobs object has no method decorated with @Cron, @Interval or @At' })
})
