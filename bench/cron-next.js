// Benchmark: the cost of one cron `next()` call, ours against cron-parser and croner.
//
//   ours            createTrigger({ cron, timezone }).next(after)       (dist/, built by `npm run build`)
//   cron-parser     a live iterator stepped with .next()                 (the headline comparison)
//   croner          new Cron(expr, { timezone, paused: true }).nextRun(after)
//   cp parse+next   CronExpressionParser.parse(expr, { currentDate, tz }).next() per call (for information)
//
// Each object is built once per (expression, zone). Each implementation then walks
// the same start instants: 12 spread over a year at random (seeded) plus 4 close to
// New York's DST changes of that year; from each start it feeds every fire back in as
// the next `after`, for at most STEPS calls or until a fire passes the year's end.
// One repetition = all the walks of one year; every repetition, and every row, uses a
// year no earlier repetition has visited (2025, 2026, ... per zone), so caches keyed by
// time (ours keeps per-zone UTC-offset caches) can't make a call cheaper than it is
// in a long-running scheduler. "warm caches" re-runs ours over each year right after
// its first pass, to show what those caches are worth.
// A walk is timed with process.hrtime.bigint() (iterator resets are outside the timing);
// a repetition's µs per call = its walks' time / its calls; the table shows the median
// over the repetitions, after a warm-up on a year of its own.
//
// Run:   node bench/cron-next.js [--quick]      (or BENCH_QUICK=1)
// Usually through `npm run bench`, which builds dist/ first.

import { existsSync, realpathSync } from 'node:fs'
import os from 'node:os'
import { pathToFileURL } from 'node:url'
import { CronExpressionParser } from 'cron-parser'
import { Cron } from 'croner'
import { QUICK, printTable, versionOf } from './common.js'

const EXPRESSIONS = [
  '*/5 * * * *',
  '0 6 * * 1-5',
  '15 3 1,15 * *',
  '0 0 29 2 *',
  '30 2 * * *',
  '*/10 * * * * *'
]
const ZONES = ['UTC', 'America/New_York']
/** The zone whose DST changes the near-DST start instants sit next to, in every row. */
const DST_ZONE = 'America/New_York'

// The issue's targets; printed beside the results, never asserted.
const TARGET_CP_RATIO = 10 // ours ≥ 10× faster than cron-parser's iterator (geometric mean over the rows)
const TARGET_SLOWER_THAN_CRONER = 0 // no row where ours is slower than croner

const SETTINGS = QUICK
  ? { reps: 3, randomStarts: 2, steps: 6, warmupMs: 10, checkSteps: 6, parseEachCall: false }
  : { reps: 7, randomStarts: 12, steps: 16, warmupMs: 150, checkSteps: 24, parseEachCall: true }
const FIRST_YEAR = 2025
/** Warm-up walks run in this year, which no measurement uses (croner stops at year 3000). */
const WARMUP_YEAR = 2900
/** A first-fire check away from any DST change (a Wednesday in June). */
const SANITY_INSTANT = new Date('2025-06-11T14:22:33.456Z')

// ---------------------------------------------------------------------------
// Start instants

function mulberry32 (seed) {
  return function random () {
    seed = (seed + 0x6D2B79F5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const offsetFormat = new Intl.DateTimeFormat('en-US', { timeZone: DST_ZONE, timeZoneName: 'longOffset' })
function offsetMinutes (ms) {
  const name = offsetFormat.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName').value
  const m = /GMT([+-])(\d\d):(\d\d)/.exec(name)
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0
}

/** The instants in `year` at which DST_ZONE's UTC offset changes, to the minute. */
function dstTransitions (year) {
  const DAY = 86_400_000
  const found = []
  let day = Date.UTC(year, 0, 1)
  let offset = offsetMinutes(day)
  for (; day < Date.UTC(year + 1, 0, 1); day += DAY) {
    const nextOffset = offsetMinutes(day + DAY)
    if (nextOffset !== offset) {
      let lo = day
      let hi = day + DAY
      while (hi - lo > 60_000) {
        const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000
        if (offsetMinutes(mid) === offset) lo = mid
        else hi = mid
      }
      found.push(hi)
      offset = nextOffset
    }
  }
  return found
}

const spans = new Map()
/** The walks of one year: { starts: [{ at: Date, dst: boolean }], limit }, the same for every implementation. */
function span (year) {
  let result = spans.get(year)
  if (result) return result
  const random = mulberry32(year * 7919)
  const from = Date.UTC(year, 0, 1)
  const limit = Date.UTC(year + 1, 0, 1) - 1
  const starts = []
  for (let i = 0; i < SETTINGS.randomStarts; i++) starts.push({ at: new Date(from + Math.floor(random() * (limit - from))), dst: false })
  for (const t of dstTransitions(year)) {
    starts.push({ at: new Date(t - 826_750), dst: true }) // 13:46.75 before: inside the changing hour's run-up
    starts.push({ at: new Date(t - 28_199_999), dst: true }) // the evening before
  }
  for (let i = starts.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = starts[i]
    starts[i] = starts[j]
    starts[j] = tmp
  }
  result = { starts, limit }
  spans.set(year, result)
  return result
}

// ---------------------------------------------------------------------------
// Walkers: begin(start) (not timed), then run(limit, steps) makes the calls of one walk
// and returns how many it made. Each implementation has its own loop, so no call site
// is shared between them.

function oursWalker (createTrigger, expr, zone) {
  const trigger = createTrigger({ cron: expr, timezone: zone })
  let after = null
  return {
    ended: false,
    begin (start) {
      after = start
      this.ended = false
    },
    run (limit, steps) {
      let calls = 0
      while (calls < steps) {
        const fire = trigger.next(after)
        calls++
        if (fire === null || fire.getTime() > limit) {
          this.ended = true
          break
        }
        after = fire
      }
      return calls
    }
  }
}

function cronParserWalker (expr, zone) {
  const iterator = CronExpressionParser.parse(expr, { currentDate: SANITY_INSTANT, tz: zone })
  return {
    ended: false,
    begin (start) {
      iterator.reset(start)
      this.ended = false
    },
    run (limit, steps) {
      let calls = 0
      while (calls < steps) {
        const fire = iterator.next()
        calls++
        if (fire.getTime() > limit) {
          this.ended = true
          break
        }
      }
      return calls
    }
  }
}

function cronParserParseWalker (expr, zone) {
  let after = null
  return {
    ended: false,
    begin (start) {
      after = start
      this.ended = false
    },
    run (limit, steps) {
      let calls = 0
      while (calls < steps) {
        const fire = CronExpressionParser.parse(expr, { currentDate: after, tz: zone }).next().toDate()
        calls++
        if (fire.getTime() > limit) {
          this.ended = true
          break
        }
        after = fire
      }
      return calls
    }
  }
}

function cronerWalker (expr, zone) {
  const job = new Cron(expr, { timezone: zone, paused: true })
  let after = null
  return {
    ended: false,
    begin (start) {
      after = start
      this.ended = false
    },
    run (limit, steps) {
      let calls = 0
      while (calls < steps) {
        const fire = job.nextRun(after)
        calls++
        if (fire === null || fire.getTime() > limit) {
          this.ended = true
          break
        }
        after = fire
      }
      return calls
    },
    dispose () { job.stop() }
  }
}

// ---------------------------------------------------------------------------
// Timing

function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** The cost of an empty hrtime.bigint() pair, subtracted from every timed walk. */
const HRTIME_OVERHEAD = (() => {
  const samples = []
  for (let i = 0; i < 5000; i++) {
    const t0 = process.hrtime.bigint()
    samples.push(Number(process.hrtime.bigint() - t0))
  }
  return median(samples.slice(1000))
})()

const elapsed = (t0) => Math.max(0, Number(process.hrtime.bigint() - t0) - HRTIME_OVERHEAD)

/**
 * Runs every walk of `year`, timing each walk's first call apart from the rest.
 * Returns ns and calls: in all, first calls, later calls, near-DST walks.
 */
function runYear (walker, year) {
  const { starts, limit } = span(year)
  const sum = { ns: 0, calls: 0, firstNs: 0, firstCalls: 0, dstNs: 0, dstCalls: 0 }
  for (const start of starts) {
    walker.begin(start.at)
    let t0 = process.hrtime.bigint()
    walker.run(limit, 1)
    const first = elapsed(t0)
    let rest = 0
    let restCalls = 0
    if (!walker.ended) {
      t0 = process.hrtime.bigint()
      restCalls = walker.run(limit, SETTINGS.steps - 1)
      rest = elapsed(t0)
    }
    sum.ns += first + rest
    sum.calls += 1 + restCalls
    sum.firstNs += first
    sum.firstCalls++
    if (start.dst) {
      sum.dstNs += first + rest
      sum.dstCalls += 1 + restCalls
    }
  }
  return sum
}

function warmUp (walker) {
  const until = process.hrtime.bigint() + BigInt(SETTINGS.warmupMs * 1e6)
  do runYear(walker, WARMUP_YEAR)
  while (process.hrtime.bigint() < until)
}

/** The median of the defined values; NaN when there are none. */
function medianOf (values) {
  const defined = values.filter((v) => Number.isFinite(v))
  return defined.length ? median(defined) : NaN
}

/**
 * walkers: { key: walker }; years: one per repetition; rerun: the key of a walker to run
 * a second time over each year right after its first pass (its caches warm), as `${rerun}Warm`.
 * Returns { key: { us, firstUs, laterUs, dstUs, otherUs } }, each the median over the repetitions.
 */
function measure (walkers, years, rerun) {
  const keys = Object.keys(walkers)
  const samples = Object.fromEntries(keys.map((key) => [key, []]))
  const warmKey = `${rerun}Warm`
  if (rerun in walkers) samples[warmKey] = []
  for (let r = 0; r < years.length; r++) {
    for (let k = 0; k < keys.length; k++) {
      const key = keys[(r + k) % keys.length] // rotate the order from one repetition to the next
      samples[key].push(runYear(walkers[key], years[r]))
      if (key === rerun) samples[warmKey].push(runYear(walkers[key], years[r]))
    }
  }
  const perCall = (ns, calls) => (calls > 0 ? ns / calls / 1000 : NaN)
  const result = {}
  for (const [key, s] of Object.entries(samples)) {
    result[key] = {
      us: medianOf(s.map((x) => perCall(x.ns, x.calls))),
      firstUs: medianOf(s.map((x) => perCall(x.firstNs, x.firstCalls))),
      laterUs: medianOf(s.map((x) => perCall(x.ns - x.firstNs, x.calls - x.firstCalls))),
      dstUs: medianOf(s.map((x) => perCall(x.dstNs, x.dstCalls))),
      otherUs: medianOf(s.map((x) => perCall(x.ns - x.dstNs, x.calls - x.dstCalls)))
    }
  }
  return result
}

// ---------------------------------------------------------------------------
// Agreement checks

const formatters = new Map()
function show (date, zone) {
  if (date === null || date === undefined) return 'null'
  if (!formatters.has(zone)) {
    formatters.set(zone, new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      month: 'short',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short'
    }))
  }
  return `${date.toISOString()} (${formatters.get(zone).format(date)})`
}

const time = (d) => (d === null || d === undefined ? null : d.getTime())

/**
 * A warning when the first fires after SANITY_INSTANT differ; a note per implementation
 * whose answers differ from ours (or from the first one measured) anywhere along the
 * near-DST walks of 2025 and 2026 — expected: the implementations follow different DST rules.
 */
function checkAgreement (createTrigger, expr, zone) {
  const warnings = []
  const notes = []
  const ours = createTrigger && createTrigger({ cron: expr, timezone: zone })
  const croner = new Cron(expr, { timezone: zone, paused: true })
  const iterator = CronExpressionParser.parse(expr, { currentDate: SANITY_INSTANT, tz: zone })
  const impls = {
    ours: ours && ((after) => ours.next(after)),
    'cron-parser': (after) => {
      iterator.reset(after)
      return iterator.next().toDate()
    },
    croner: (after) => croner.nextRun(after)
  }
  const names = Object.keys(impls).filter((name) => impls[name])

  const first = names.map((name) => impls[name](SANITY_INSTANT))
  if (!first.every((d) => time(d) === time(first[0]))) {
    warnings.push(`WARNING: ${JSON.stringify(expr)} in ${zone}: the first fire after ${SANITY_INSTANT.toISOString()} differs: ` +
      names.map((name, i) => `${name} ${show(first[i], zone)}`).join(', '))
  }

  // Walks driven by the first implementation; every implementation answers every step.
  const driver = names[0]
  const diffs = {}
  let compared = 0
  for (const year of [2025, 2026]) {
    const { starts, limit } = span(year)
    for (const start of starts) {
      if (!start.dst) continue
      let after = start.at
      for (let step = 0; step < SETTINGS.checkSteps && after !== null && after.getTime() <= limit; step++) {
        const answers = {}
        for (const name of names) answers[name] = impls[name](after)
        compared++
        for (const name of names) {
          if (name === driver || time(answers[name]) === time(answers[driver])) continue
          const d = (diffs[name] ??= { count: 0, example: null })
          d.count++
          d.example ??= { after, [driver]: answers[driver], [name]: answers[name] }
        }
        after = answers[driver]
      }
    }
  }
  for (const [name, d] of Object.entries(diffs)) {
    const e = d.example
    notes.push(`${JSON.stringify(expr)} in ${zone}: ${name} differs from ${driver} on ${d.count} of ${compared} calls; ` +
      `first: after ${show(e.after, zone)}: ${driver} ${show(e[driver], zone)}, ${name} ${show(e[name], zone)}`)
  }
  croner.stop()
  return { warnings, notes }
}

// ---------------------------------------------------------------------------
// Output

async function loadOurs () {
  const errors = []
  for (const file of ['dist/index.js', 'dist/triggers/trigger.js']) {
    const url = new URL(`../${file}`, import.meta.url)
    if (!existsSync(url)) continue
    try {
      const mod = await import(url.href)
      if (typeof mod.createTrigger === 'function') return { createTrigger: mod.createTrigger, from: file, errors }
      errors.push(`${file} exports no createTrigger`)
    } catch (err) {
      errors.push(`${file}: ${err.message}`)
    }
  }
  return { createTrigger: null, from: null, errors }
}

const fmt = (us) => (us === undefined || Number.isNaN(us) ? 'n/a' : us < 10 ? us.toFixed(3) : us < 100 ? us.toFixed(2) : us.toFixed(1))
const fmtRatio = (r) => (Number.isFinite(r) ? `${r < 10 ? r.toFixed(2) : r.toFixed(1)}×` : 'n/a')
const geomean = (values) => Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length)

export async function run () {
  const started = process.hrtime.bigint()
  const { createTrigger, from, errors } = await loadOurs()
  const walksPerYear = span(FIRST_YEAR).starts.length

  console.log(`cron-next: µs per next() call (median over repetitions)${QUICK ? '   [QUICK mode: rough numbers]' : ''}`)
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()}; ` +
    `cron-parser ${versionOf('cron-parser')}, croner ${versionOf('croner')}, ours from ${from ?? '(NOT BUILT)'}`)
  console.log(`per row: ${SETTINGS.reps} repetitions, each a fresh year of ${walksPerYear} walks of ≤${SETTINGS.steps} calls ` +
    `(${SETTINGS.randomStarts} random starts + ${walksPerYear - SETTINGS.randomStarts} next to ${DST_ZONE} DST changes), ` +
    `after ~${SETTINGS.warmupMs} ms of warm-up`)
  if (!createTrigger) {
    console.log(`WARNING: ours not measured: no createTrigger in dist/ (run \`npm run build\`)${errors.length ? ': ' + errors.join('; ') : ''}`)
  }
  console.log('')

  const nextYear = Object.fromEntries(ZONES.map((zone) => [zone, FIRST_YEAR]))
  const rows = []
  for (const expr of EXPRESSIONS) {
    for (const zone of ZONES) {
      const walkers = {}
      if (createTrigger) walkers.ours = oursWalker(createTrigger, expr, zone)
      walkers.cp = cronParserWalker(expr, zone)
      walkers.croner = cronerWalker(expr, zone)
      if (SETTINGS.parseEachCall) walkers.cpParse = cronParserParseWalker(expr, zone)
      for (const walker of Object.values(walkers)) warmUp(walker)

      const years = Array.from({ length: SETTINGS.reps }, (_, i) => nextYear[zone] + i)
      nextYear[zone] += SETTINGS.reps
      // Ours runs each year twice in a row: the second pass finds its time-keyed caches warm.
      const result = measure(walkers, years, 'ours')
      walkers.croner.dispose()
      rows.push({ expr, zone, years, ...result })
    }
  }

  const us = (row, key) => row[key]?.us
  printTable(
    ['expression', 'zone', 'ours µs', 'cron-parser µs', 'croner µs', 'cron-parser/ours', 'croner/ours'],
    rows.map((r) => [
      JSON.stringify(r.expr), r.zone, fmt(us(r, 'ours')), fmt(us(r, 'cp')), fmt(us(r, 'croner')),
      fmtRatio(us(r, 'cp') / us(r, 'ours')),
      fmtRatio(us(r, 'croner') / us(r, 'ours')) + (us(r, 'ours') > us(r, 'croner') ? ' !' : '  ')
    ]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r'])
  console.log('("!": ours slower than croner)')
  console.log('')

  if (createTrigger) {
    const ratio = geomean(rows.map((r) => us(r, 'cp') / us(r, 'ours')))
    const laterRatio = geomean(rows.filter((r) => Number.isFinite(r.ours.laterUs)).map((r) => r.cp.laterUs / r.ours.laterUs))
    const warmRatio = geomean(rows.map((r) => us(r, 'cp') / us(r, 'oursWarm')))
    const slower = rows.filter((r) => us(r, 'ours') > us(r, 'croner'))
    console.log(`summary: cron-parser/ours geometric mean ${fmtRatio(ratio)}   target ≥ ${TARGET_CP_RATIO}×: ${ratio >= TARGET_CP_RATIO ? 'met' : 'NOT met'}`)
    console.log(`summary: ours slower than croner in ${slower.length} of ${rows.length} rows   target ${TARGET_SLOWER_THAN_CRONER}: ` +
      `${slower.length <= TARGET_SLOWER_THAN_CRONER ? 'met' : 'NOT met'}` +
      (slower.length ? `   (${slower.map((r) => `${JSON.stringify(r.expr)} ${r.zone}`).join(', ')})` : ''))
    console.log(`(for reference, cron-parser/ours geometric mean over later calls only: ${fmtRatio(laterRatio)}; ` +
      `against ours with warm caches: ${fmtRatio(warmRatio)})`)
    console.log('')
    console.log(`Ours in detail (µs per call; cp parse+next: cron-parser parsing afresh for every call${SETTINGS.parseEachCall ? '' : ', not measured in quick mode'}):`)
    printTable(
      ['expression', 'zone', 'all calls', 'first call', 'later calls', 'near DST', 'other walks', 'warm caches', 'cp parse+next'],
      rows.map((r) => [
        JSON.stringify(r.expr), r.zone, fmt(r.ours.us), fmt(r.ours.firstUs), fmt(r.ours.laterUs),
        fmt(r.ours.dstUs), fmt(r.ours.otherUs), fmt(r.oursWarm.us), fmt(us(r, 'cpParse'))
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'])
    console.log('(first call: the first call of each walk, like scheduling a job; later calls: the rest of each walk;')
    console.log(` near DST: the walks that start next to a ${DST_ZONE} DST change; warm caches: ours re-running each year right after its first pass)`)
  } else {
    console.log('summary: ours not built; only cron-parser and croner were measured')
  }
  console.log('')
  console.log(`Agreement (first fire after ${SANITY_INSTANT.toISOString()}; near-DST walks of 2025–2026, ≤${SETTINGS.checkSteps} calls each):`)
  let quiet = true
  for (const { expr, zone } of rows) {
    const { warnings, notes } = checkAgreement(createTrigger, expr, zone)
    for (const line of [...warnings, ...notes.map((n) => `note: ${n}`)]) {
      console.log(line)
      quiet = false
    }
  }
  if (quiet) console.log('all implementations agree')
  console.log(`\ncron-next done in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`)
}

// Runs when executed directly (bench/run.js spawns each bench as a child process).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  await run()
}
