import t from 'tap'
import { harness, periodicTrigger } from './helpers/scheduler.js'
import { CATCH_UP_LIMIT } from '../lib/scheduler.js'
import type { JobDefinition } from '../lib/job.js'

const YEAR = 365 * 86_400_000

/** A 100 ms interval job, the clock advanced 50 ms, then the loop blocked for `blocked` ms. */
async function blockedLoop (options: Partial<JobDefinition>, blocked = 5000): Promise<{ h: ReturnType<typeof harness>, runs: number[], start: number }> {
  const h = harness()
  const start = h.clock.now()
  const runs: number[] = []
  h.scheduler.addJob({ id: 'fast', trigger: { interval: 100 }, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - start) }, ...options })
  h.scheduler.start()
  await h.clock.tick(50)
  await h.clock.jump(blocked)
  return { h, runs, start }
}

t.test('a 5-second blocked loop gives one coalesced run, for the latest due fire', async (t) => {
  const { h, runs, start } = await blockedLoop({})
  t.same(runs, [5000], 'fires 100..5000 were due; only the latest runs')
  t.equal(h.of('job:missed').length, 0, 'without a grace time nothing counts as missed')
  t.equal(h.scheduler.getJob('fast')?.stats.missed, 0)
  t.equal(h.scheduler.getJob('fast')?.nextRunAt, new Date(start + 5100).toISOString(), 'the schedule goes on from the grid')
  await h.clock.tick(50)
  t.same(runs, [5000, 5100])
})

t.test('without coalesce, the due runs happen in order', async (t) => {
  const { h, runs } = await blockedLoop({ coalesce: false })
  t.same(runs, Array.from({ length: 50 }, (_, k) => (k + 1) * 100))
  t.equal(h.scheduler.getJob('fast')?.stats.runs, 50)
  t.equal(h.of('job:missed').length, 0)
})

t.test('with misfireGraceTime: 1000, the late fires are one job:missed with the count', async (t) => {
  const { h, runs, start } = await blockedLoop({ misfireGraceTime: 1000 })
  // now = 5050: fires more than 1000 ms late are those before 4050: 100..4000.
  t.same(h.of('job:missed'), [{ id: 'fast', scheduledAt: new Date(start + 100), count: 40 }])
  t.equal(h.scheduler.getJob('fast')?.stats.missed, 40)
  t.same(runs, [5000], 'then the latest fire within grace runs, coalesced')
  t.match(h.logs, [{ level: 'warn', obj: { jobId: 'fast', count: 40 } }])
})

t.test('misfireGraceTime without coalesce: the ones within grace run in order', async (t) => {
  const { h, runs } = await blockedLoop({ misfireGraceTime: 1000, coalesce: false })
  t.equal(h.of('job:missed')[0].count, 40)
  t.same(runs, [4100, 4200, 4300, 4400, 4500, 4600, 4700, 4800, 4900, 5000])
})

t.test('when every due fire is beyond grace, nothing runs', async (t) => {
  const h = harness()
  let runs = 0
  h.scheduler.addJob({ id: 'slow', trigger: { interval: 10_000 }, misfireGraceTime: 500, handler: () => { runs++ } })
  h.scheduler.start()
  await h.clock.jump(15_000) // fire 10,000 is 5,000 late; 20,000 not due
  t.equal(runs, 0)
  t.same(h.of('job:missed').map((e) => e.count), [1])
})

t.test('a grace time of 0 still runs fires that are exactly on time', async (t) => {
  const h = harness()
  let runs = 0
  h.scheduler.addJob({ id: 'strict', trigger: { interval: 1000 }, misfireGraceTime: 0, handler: () => { runs++ } })
  h.scheduler.start()
  await h.clock.tick(3000)
  t.equal(runs, 3)
  t.equal(h.of('job:missed').length, 0)
})

t.test('without coalesce, at most CATCH_UP_LIMIT runs per wake; the excess counts as missed', async (t) => {
  const { h, runs } = await blockedLoop({ coalesce: false }, 20_000)
  // now = 20,050: 200 fires due.
  t.equal(runs.length, CATCH_UP_LIMIT)
  t.same(runs.slice(0, 3), [100, 200, 300], 'the oldest first, in order')
  t.same(h.of('job:missed').map((e) => e.count), [200 - CATCH_UP_LIMIT])
  t.equal(h.scheduler.getJob('fast')?.stats.missed, 100)
})

t.test('a forward clock jump of a year neither hangs nor allocates per missed fire', async (t) => {
  for (const coalesce of [true, false]) {
    const h = harness()
    let runs = 0
    h.scheduler.addJob({ id: 'every-second', trigger: { interval: 1000 }, misfireGraceTime: 1000, coalesce, handler: () => { runs++ } })
    h.scheduler.start()
    global.gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    const started = performance.now()
    await h.clock.jump(YEAR)
    const elapsed = performance.now() - started
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore
    // now = YEAR; fires 1000..YEAR; the late ones are those before YEAR - 1000.
    t.same(h.of('job:missed').map((e) => e.count), [YEAR / 1000 - 2], `coalesce ${coalesce}: the exact count, computed`)
    t.equal(runs, coalesce ? 1 : 2, 'only the fires within grace run')
    t.ok(elapsed < 1000, `fast (${elapsed.toFixed(1)} ms)`)
    t.ok(heapGrowth < 5_000_000, `no per-fire allocation (${heapGrowth} bytes for 31,536,000 fires)`)
  }
})

t.test('a year jump with cron-like triggers: bounded walks, an exact latest fire', async (t) => {
  const h = harness()
  const start = h.clock.now()
  const irregular = periodicTrigger(start, 1000) // no period in its JSON: walked, not computed
  const runs: number[] = []
  h.scheduler.addJob({ id: 'walked', trigger: irregular, handler: (ctx) => { runs.push(ctx.scheduledAt.getTime() - start) } })
  h.scheduler.addJob({ id: 'graced', trigger: periodicTrigger(start, 1000), misfireGraceTime: 60_000, handler: () => {} })
  h.scheduler.addJob({ id: 'cron', trigger: { cron: '* * * * * *' }, misfireGraceTime: 1000, handler: () => {} })
  h.scheduler.start()
  irregular.calls = 0
  const started = performance.now()
  await h.clock.jump(YEAR + 500)
  t.ok(performance.now() - started < 2000, 'fast')
  t.same(runs, [YEAR], 'coalesced into the latest fire, found exactly')
  t.ok(irregular.calls < 1200, `the trigger was asked ${irregular.calls} times, not 31 million`)
  const missed = h.of('job:missed')
  t.same(missed.map((e) => e.id), ['graced', 'cron'])
  const expected = YEAR / 1000 - 60
  t.ok(Math.abs(missed[0].count - expected) / expected < 0.001, `an estimate within 0.1% (${missed[0].count} for ${expected})`)
  t.ok(Math.abs(missed[1].count - YEAR / 1000) / (YEAR / 1000) < 0.001, `cron: ${missed[1].count}`)
})

t.test('while the scheduler is paused, due fires are consumed and reported as skipped', async (t) => {
  const h = harness()
  let runs = 0
  h.scheduler.addJob({ id: 'tick', trigger: { interval: 1000 }, handler: () => { runs++ } })
  h.scheduler.start()
  h.scheduler.pause()
  await h.clock.tick(3000)
  t.equal(runs, 0)
  t.same(h.of('job:skipped').map((e) => [e.reason, e.count]), [['paused', 1], ['paused', 1], ['paused', 1]])
  await h.clock.jump(60_000)
  t.same(h.of('job:skipped').at(-1), { id: 'tick', scheduledAt: new Date(h.clock.now()), reason: 'paused', count: 60 }, 'a long gap is one event with the count')
  t.equal(h.scheduler.getJob('tick')?.stats.skipped, 63)
  h.scheduler.resume()
  await h.clock.tick(1000)
  t.equal(runs, 1, 'resumed: the next fire runs, no burst of old ones')
  t.equal(h.of('job:missed').length, 0)
})

t.test('a catch-up without coalesce stops when a handler pauses or removes its own job', async (t) => {
  const h = harness()
  const runs: string[] = []
  h.scheduler.addJob({ id: 'pauser', trigger: { interval: 100 }, coalesce: false, handler: () => { runs.push('pauser'); if (runs.filter((r) => r === 'pauser').length === 2) h.scheduler.pauseJob('pauser') } })
  h.scheduler.addJob({ id: 'remover', trigger: { interval: 100 }, coalesce: false, handler: () => { runs.push('remover'); h.scheduler.removeJob('remover') } })
  h.scheduler.start()
  await h.clock.jump(1000) // ten fires due for each
  t.same(runs, ['pauser', 'pauser', 'remover'])
  t.equal(h.scheduler.getJob('pauser')?.paused, true)
  t.equal(h.scheduler.getJob('remover'), undefined)
})
