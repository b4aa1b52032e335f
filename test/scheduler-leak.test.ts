import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const probe = fileURLToPath(new URL('./fixtures/leak-probe.ts', import.meta.url))

/**
 * Runs a scenario of test/fixtures/leak-probe.ts in a child with --expose-gc,
 * for heap numbers after real full GCs. The child keeps this process's
 * TypeScript loader but not its coverage: it measures memory, not code paths.
 */
async function measure (scenario: string): Promise<Record<string, number>> {
  const loaders = process.execArgv.filter((arg) => !arg.includes('processinfo'))
  const env = { ...process.env }
  delete env.NODE_V8_COVERAGE
  const { stdout } = await promisify(execFile)(process.execPath, [...loaders, '--expose-gc', probe, scenario], { env, maxBuffer: 1 << 20 })
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number>
}

const MB = 1_000_000

// The three children run side by side; a million jobs takes a while in a fresh
// process that also compiles TypeScript.
t.setTimeout(180_000)
const results = { million: measure('million'), fired: measure('fired') }

t.test('adding and removing 1,000,000 jobs (one-shot and recurring) leaves the heap where it was', async (t) => {
  const result = await results.million
  t.equal(result.jobs, 0, 'the registry is empty')
  t.equal(result.timers, 0, 'no timer left')
  t.equal(result.timersAtPeak, 1, 'one timer for a hundred thousand jobs')
  t.ok(result.growth < MB, `900,000 more jobs added and removed leave the heap within 1 MB of where it was (${(result.growth / MB).toFixed(2)} MB)`)
})

t.test('one-shot jobs that fired and were removed leave nothing behind', async (t) => {
  const result = await results.fired
  t.equal(result.exhausted, 100_000, 'every one fired once and was exhausted')
  t.ok(result.growth < 2 * MB, `heap growth ${(result.growth / MB).toFixed(2)} MB`)
  t.equal(result.jobs, 0)
  t.equal(result.timers, 0)
})
