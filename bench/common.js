// Helpers the benchmarks share: quick mode, tables, percentiles, child reports.

import { readFileSync } from 'node:fs'

/** `--quick` or BENCH_QUICK=1: fewer iterations, rough numbers. */
export const QUICK = process.argv.includes('--quick') || /^(1|true|yes|on)$/i.test(process.env.BENCH_QUICK ?? '')

/** Linux's USER_HZ: the unit of the CPU times in /proc/stat and /proc/<pid>/stat. */
export const CLOCK_TICKS = 100

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

/** The p-quantile (0..1) of an ascending array, nearest-rank; null when empty. */
export function percentile (sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

/** Prints rows of strings as aligned columns; `align[i]` is 'l' for left, else right. */
export function printTable (header, rows, align) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells) => cells.map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of rows) console.log(line(row))
}

/** The installed version of a package (path relative to the repository root), or `fallback`. */
export function versionOf (pkg, fallback = '?', from = '') {
  try {
    return JSON.parse(readFileSync(new URL(`../${from}node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version
  } catch {
    return fallback
  }
}

/** A child bench process reports to its parent over IPC, or prints JSON when run alone. */
export function report (message) {
  if (process.send) process.send(message)
  else console.log(JSON.stringify(message))
}
