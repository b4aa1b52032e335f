// Runs the benchmarks in bench/, one after another, each in its own Node process
// (so one bench's JIT state, heap and caches can't colour the next one's numbers).
//
//   node bench/run.js [--quick] [name ...]
//
// --quick (or BENCH_QUICK=1) is passed on to every bench: fewer iterations, rough numbers.
// Names pick benches to run (`node bench/run.js cron-next`); default: all of them.
// Exits non-zero only when a bench crashes; performance targets are reported, never enforced.
//
// To add a bench: write bench/<name>.js that prints its own results when run with
// `node bench/<name>.js [--quick]`, and add '<name>' to BENCHES below.

import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BENCHES = [
  'cron-next',
  'scale',
  'http',
  // These two need PostgreSQL and Redis (DATABASE_URL, REDIS_URL; local defaults).
  'store-ops',
  'fleet'
]

const args = process.argv.slice(2)
const flags = args.filter((arg) => arg.startsWith('-'))
const names = args.filter((arg) => !arg.startsWith('-'))
const unknown = names.filter((name) => !BENCHES.includes(name))
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(', ')} (known: ${BENCHES.join(', ')})`)
  process.exit(2)
}

const failed = []
const started = process.hrtime.bigint()
for (const name of names.length ? names : BENCHES) {
  const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url))
  console.log(`\n=== ${name} ===\n`)
  const result = spawnSync(process.execPath, [file, ...flags], { stdio: 'inherit' })
  if (result.status !== 0) {
    failed.push(name)
    console.error(`\n${name} failed: ${result.error?.message ?? (result.signal ? `killed by ${result.signal}` : `exit code ${result.status}`)}`)
  }
}

console.log(`\nbenchmarks done in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s` +
  (failed.length ? `; FAILED: ${failed.join(', ')}` : ''))
process.exitCode = failed.length ? 1 : 0
