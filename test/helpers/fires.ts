import { createTrigger, type TriggerSpec } from '../../lib/triggers/trigger.js'

/** The first `count` fire times of a spec after `start`, as ISO strings (UTC). */
export function fires (spec: TriggerSpec | string, start: string, count: number, timezone = 'UTC'): string[] {
  const trigger = createTrigger(typeof spec === 'string' ? { cron: spec } : spec, { timezone })
  const out: string[] = []
  let at: Date | null = new Date(start)
  for (let i = 0; i < count; i++) {
    at = trigger.next(at)
    if (at === null) break
    out.push(at.toISOString())
  }
  return out
}

/** All fire times of a cron spec in (start, end], as ISO strings. */
export function firesBetween (spec: TriggerSpec | string, start: string, end: string, timezone = 'UTC'): string[] {
  const trigger = createTrigger(typeof spec === 'string' ? { cron: spec } : spec, { timezone })
  const until = new Date(end).getTime()
  const out: string[] = []
  for (let at = trigger.next(new Date(start)); at !== null && at.getTime() <= until; at = trigger.next(at)) {
    out.push(at.toISOString())
  }
  return out
}
