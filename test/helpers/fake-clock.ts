import type { Clock } from '../../lib/clock.js'

// Captured at import, so a test that installs @sinonjs/fake-timers can still flush.
const realSetImmediate = setImmediate

interface Timer {
  id: number
  at: number
  fn: () => void
  delay: number
}

/**
 * A manual Clock for tests: time moves only when the test says so, and timers
 * fire in time order (ties: first armed, first fired). No wall-clock waits.
 */
export class ManualClock implements Clock {
  /** Every delay ever passed to setTimeout, to check the caps. */
  readonly delays: number[] = []
  /** Each timer fires this many ms after its due time (a busy event loop). */
  latency = 0
  #now: number
  #nextId = 1
  readonly #timers = new Map<number, Timer>()

  constructor (start: number | string | Date = '2026-01-05T00:00:00.000Z') {
    this.#now = new Date(start).getTime()
  }

  now (): number {
    return this.#now
  }

  setTimeout (fn: () => void, ms: number): unknown {
    const id = this.#nextId++
    this.delays.push(ms)
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn, delay: ms })
    return id
  }

  clearTimeout (handle: unknown): void {
    this.#timers.delete(handle as number)
  }

  /** Timers armed and not yet fired or cleared. */
  get pending (): number {
    return this.#timers.size
  }

  /** The delays of the armed timers. */
  get armed (): number[] {
    return [...this.#timers.values()].map((timer) => timer.delay)
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due at its due
   * time (plus `latency`), with promise jobs flushed after each.
   */
  async tick (ms: number): Promise<void> {
    const target = this.#now + ms
    // Promise jobs queued before the call run first, as they would before any timer.
    await flush()
    for (;;) {
      const timer = this.#earliest()
      if (timer === undefined || timer.at + this.latency > target) break
      this.#now = Math.max(this.#now, timer.at + this.latency)
      this.#timers.delete(timer.id)
      timer.fn()
      await flush()
    }
    this.#now = target
    await flush()
  }

  /** Moves time to the instant `at` (see tick). */
  async tickTo (at: number | string | Date): Promise<void> {
    await this.tick(new Date(at).getTime() - this.#now)
  }

  /**
   * The event loop was blocked (or the machine asleep) for `ms`: time jumps
   * without firing anything, then the overdue timers fire once, late.
   */
  async jump (ms: number): Promise<void> {
    this.#now += ms
    await this.tick(0)
  }

  #earliest (): Timer | undefined {
    let best: Timer | undefined
    for (const timer of this.#timers.values()) {
      if (best === undefined || timer.at < best.at) best = timer
    }
    return best
  }
}

/** Lets every queued promise job (and what they queue) run. */
export async function flush (): Promise<void> {
  await new Promise((resolve) => realSetImmediate(resolve))
}
