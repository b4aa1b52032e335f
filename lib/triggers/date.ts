import { invalidTrigger } from '../errors.js'
import type { Trigger, TriggerJSON } from './trigger.js'
import { boundsJSON, parseAt, type ParsedBounds } from './bounds.js'

/** Fires once, at one instant. */
export class DateTrigger implements Trigger {
  readonly jitter: number
  readonly at: number
  private readonly bounds: ParsedBounds

  constructor (at: unknown, zone: string, bounds: ParsedBounds) {
    this.at = parseAt(at, zone, 'at')
    this.bounds = bounds
    this.jitter = bounds.jitter
    const { startAt, endAt } = bounds
    if ((startAt !== null && this.at < startAt) || (endAt !== null && this.at > endAt)) {
      const window = `${startAt === null ? '' : `startAt ${new Date(startAt).toISOString()}`}${startAt !== null && endAt !== null ? ' – ' : ''}${endAt === null ? '' : `endAt ${new Date(endAt).toISOString()}`}`
      throw invalidTrigger(`Invalid trigger: at ${new Date(this.at).toISOString()} is outside ${window}, so it can never fire`)
    }
  }

  next (after: Date): Date | null {
    return this.at > after.getTime() ? new Date(this.at) : null
  }

  toJSON (): TriggerJSON {
    const at = new Date(this.at).toISOString()
    return { type: 'date', description: `once at ${at}`, at, ...boundsJSON(this.bounds) }
  }
}
