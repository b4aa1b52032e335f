/**
 * The scheduler's only source of time. Injectable so tests can drive it; the
 * system clock is the default.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now (): number
  /** Calls `fn` once after about `ms` milliseconds; returns a handle for clearTimeout. */
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (handle: unknown): void
}

/**
 * The longest single wait the system clock arms (DESIGN rule 3). Far below
 * setTimeout's 2^31-1 ms limit (beyond it Node fires after 1 ms and warns
 * TimeoutOverflowWarning), and short enough that a suspended machine or a clock
 * change is noticed within a minute: every waiter re-reads the clock on waking.
 */
export const MAX_WAIT = 60_000

interface Unrefable {
  unref?: () => unknown
  ref?: () => unknown
}

/**
 * The default clock. It looks up `Date.now`, `setTimeout` and `clearTimeout` on
 * every call rather than capturing them at import, so fake timers installed
 * later (a user's test with @sinonjs/fake-timers) drive it too. Its timers are
 * capped at MAX_WAIT and unref()'d: the scheduling timer never keeps the process
 * alive.
 */
export const systemClock: Clock = {
  now () {
    return Date.now()
  },
  setTimeout (fn, ms) {
    const handle = globalThis.setTimeout(fn, Math.min(Math.max(0, ms), MAX_WAIT))
    ;(handle as Unrefable).unref?.()
    return handle
  },
  clearTimeout (handle) {
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0])
  }
}

/**
 * Calls `fn` once the clock reads `at` or later, in waits of at most MAX_WAIT
 * that each re-read the clock, so a deadline of any length works on a clock that
 * caps its waits and survives clock jumps. Calls `fn` synchronously when `at`
 * has already passed. With `ref`, each timer is ref()'d again (where the handle
 * supports it): the shutdown grace timer must keep the process alive until it
 * fires. Returns a function that cancels the deadline.
 */
export function setDeadline (clock: Clock, at: number, fn: () => void, options: { ref?: boolean } = {}): () => void {
  let handle: unknown
  const check = (): void => {
    handle = undefined
    const left = at - clock.now()
    if (left <= 0) {
      fn()
      return
    }
    handle = clock.setTimeout(check, Math.min(left, MAX_WAIT))
    if (options.ref === true) (handle as Unrefable | undefined)?.ref?.()
  }
  check()
  return () => {
    if (handle !== undefined) clock.clearTimeout(handle)
    handle = undefined
  }
}
