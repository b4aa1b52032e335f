/**
 * A small synchronous event emitter whose listeners can't hurt the emitter: a
 * listener that throws (or returns a promise that rejects) is reported through
 * `onListenerError` and the remaining listeners still run. node:events would
 * rethrow into the scheduler loop, and an `'error'` event there has special
 * meaning we don't want.
 */
type OnceWrapper<P> = ((payload: P) => unknown) & { listener?: (payload: P) => unknown }

export class SafeEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Array<(payload: never) => unknown>>()
  readonly #onListenerError: (err: unknown, event: keyof Events) => void

  constructor (onListenerError: (err: unknown, event: keyof Events) => void) {
    this.#onListenerError = onListenerError
  }

  on<E extends keyof Events> (event: E, listener: (payload: Events[E]) => unknown): void {
    const list = this.#listeners.get(event)
    if (list === undefined) this.#listeners.set(event, [listener])
    else list.push(listener)
  }

  /** Calls `listener` for the next `event` only. `off` with the same listener cancels it. */
  once<E extends keyof Events> (event: E, listener: (payload: Events[E]) => unknown): void {
    const wrapper: OnceWrapper<Events[E]> = (payload) => {
      this.off(event, wrapper)
      return listener(payload)
    }
    wrapper.listener = listener
    this.on(event, wrapper)
  }

  /** Removes one registration of `listener` (the latest, like node:events), `once` ones included. */
  off<E extends keyof Events> (event: E, listener: (payload: Events[E]) => unknown): void {
    const list = this.#listeners.get(event)
    if (list === undefined) return
    for (let index = list.length - 1; index >= 0; index--) {
      const candidate = list[index] as OnceWrapper<Events[E]>
      if (candidate === listener || candidate.listener === listener) {
        list.splice(index, 1)
        break
      }
    }
    if (list.length === 0) this.#listeners.delete(event)
  }

  /** Whether anyone listens: lets callers skip building a payload nobody reads. */
  has (event: keyof Events): boolean {
    return this.#listeners.has(event)
  }

  emit<E extends keyof Events> (event: E, payload: Events[E]): void {
    const list = this.#listeners.get(event)
    if (list === undefined) return
    // A copy: listeners may add or remove listeners (once) while we iterate.
    for (const listener of list.slice()) {
      try {
        const value = (listener as (payload: Events[E]) => unknown)(payload)
        if (value instanceof Promise) value.catch((err: unknown) => this.#onListenerError(err, event))
      } catch (err) {
        this.#onListenerError(err, event)
      }
    }
  }
}
