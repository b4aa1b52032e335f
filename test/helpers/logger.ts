import type { Logger } from '../../lib/job.js'

export interface LogLine {
  level: string
  bindings: Record<string, unknown>
  obj: unknown
  msg: string | undefined
}

/** A Logger that records every line (with its child bindings) for assertions. */
export function recordingLogger (lines: LogLine[] = [], bindings: Record<string, unknown> = {}): Logger & { lines: LogLine[] } {
  const log = (level: string) => (obj: unknown, msg?: string): void => {
    lines.push({ level, bindings, obj, msg })
  }
  return {
    lines,
    trace: log('trace'),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    fatal: log('fatal'),
    child: (more) => recordingLogger(lines, { ...bindings, ...more })
  }
}
