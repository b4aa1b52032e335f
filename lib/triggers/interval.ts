import { describe, invalidTrigger } from '../errors.js'
import { formatDuration, parseDuration } from '../duration.js'
import type { Trigger, TriggerJSON } from './trigger.js'
import { boundsJSON, guard, type ParsedBounds } from './bounds.js'

/**
 * Fires at anchor + k·interval: computed from the anchor, never from the previous
 * run, so there is no drift. With an explicit `startAt` the anchor is startAt and
 * startAt itself fires (k >= 0); otherwise the anchor is the instant the job was
 * scheduled and the first fire is one interval later (k >= 1), unless `immediate`.
 * Lengths are plain numbers, so intervals beyond setTimeout's 2^31-1 ms are fine.
 */
export class IntervalTrigger implements Trigger {
  readonly jitter: number
  readonly intervalMs: number
  readonly anchor: number
  private readonly firstIndex: number
  private readonly bounds: ParsedBounds
  private readonly immediate: boolean

  constructor (interval: unknown, immediate: unknown, bounds: ParsedBounds, anchor: number) {
    if (immediate !== undefined && typeof immediate !== 'boolean') {
      throw invalidTrigger(`Invalid trigger immediate ${describe(immediate)}: must be a boolean`)
    }
    this.intervalMs = guard(() => parseDuration(interval, 'interval'))
    this.bounds = bounds
    this.jitter = bounds.jitter
    this.immediate = immediate === true
    this.anchor = bounds.startAt ?? anchor
    this.firstIndex = bounds.startAt !== null || this.immediate ? 0 : 1
    if (bounds.endAt !== null && this.fireAt(this.firstIndex) > bounds.endAt) {
      throw invalidTrigger(`Invalid trigger: interval ${describe(interval)} from ${new Date(this.anchor).toISOString()} never fires before endAt ${new Date(bounds.endAt).toISOString()}`)
    }
  }

  next (after: Date): Date | null {
    const elapsed = after.getTime() - this.anchor
    const index = Math.max(this.firstIndex, Math.floor(elapsed / this.intervalMs) + 1)
    const fire = this.fireAt(index)
    if (this.bounds.endAt !== null && fire > this.bounds.endAt) return null
    return new Date(fire)
  }

  toJSON (): TriggerJSON {
    return {
      type: 'interval',
      description: `every ${formatDuration(this.intervalMs)}`,
      intervalMs: this.intervalMs,
      anchor: new Date(this.anchor).toISOString(),
      ...(this.immediate ? { immediate: true } : {}),
      ...boundsJSON(this.bounds)
    }
  }

  private fireAt (index: number): number {
    return this.anchor + index * this.intervalMs
  }
}
