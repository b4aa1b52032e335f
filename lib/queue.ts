/**
 * A pending fire in the queue. The entry is its own handle: it remembers its
 * position in the heap, so removing or moving it costs O(log n) instead of a
 * search (removing a million jobs must not be quadratic).
 */
export interface QueueEntry<T> {
  readonly value: T
  /** When it is due, epoch ms. Change it only through `FireQueue.update`. */
  due: number
  /** Insertion order; breaks ties between equal due times (first in, first out). */
  seq: number
  /** Position in the heap, -1 while not queued. Owned by the queue. */
  index: number
}

/**
 * A binary min-heap of pending fires keyed by due time. No timers, no I/O: the
 * scheduler arms one timer for `peek()`.
 */
export class FireQueue<T> {
  #heap: Array<QueueEntry<T>> = []
  #seq = 0

  get size (): number {
    return this.#heap.length
  }

  /** Queues `value` at `due`; the returned entry is the handle for update/remove. */
  push (value: T, due: number): QueueEntry<T> {
    const entry: QueueEntry<T> = { value, due, seq: 0, index: -1 }
    this.update(entry, due)
    return entry
  }

  /** Moves an entry to a new due time, queueing it again if it was removed or popped. */
  update (entry: QueueEntry<T>, due: number): void {
    entry.due = due
    entry.seq = this.#seq++
    if (entry.index === -1) {
      entry.index = this.#heap.length
      this.#heap.push(entry)
      this.#up(entry.index)
    } else {
      // The new key may be smaller or larger than the old one: try both ways.
      this.#up(entry.index)
      this.#down(entry.index)
    }
  }

  /** Takes an entry out of the queue; false when it wasn't queued. */
  remove (entry: QueueEntry<T>): boolean {
    const index = entry.index
    if (index === -1 || this.#heap[index] !== entry) return false
    const last = this.#heap.pop() as QueueEntry<T>
    entry.index = -1
    if (last !== entry) {
      this.#heap[index] = last
      last.index = index
      this.#up(index)
      this.#down(last.index)
    }
    this.#releaseIfEmpty()
    return true
  }

  has (entry: QueueEntry<T>): boolean {
    return entry.index !== -1 && this.#heap[entry.index] === entry
  }

  /** The entry due first (ties: the one queued first), without removing it. */
  peek (): QueueEntry<T> | undefined {
    return this.#heap[0]
  }

  /** Removes and returns the entry due first. */
  pop (): QueueEntry<T> | undefined {
    const top = this.#heap[0]
    if (top !== undefined) this.remove(top)
    return top
  }

  clear (): void {
    for (const entry of this.#heap) entry.index = -1
    this.#heap = []
  }

  /**
   * A drained heap gets a fresh array: V8 keeps a shrunk array's backing store,
   * and after a million removals that would be megabytes held for nothing.
   */
  #releaseIfEmpty (): void {
    if (this.#heap.length === 0) this.#heap = []
  }

  #less (a: QueueEntry<T>, b: QueueEntry<T>): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq)
  }

  #up (index: number): void {
    const heap = this.#heap
    const entry = heap[index]
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = heap[parentIndex]
      if (!this.#less(entry, parent)) break
      heap[index] = parent
      parent.index = index
      index = parentIndex
    }
    heap[index] = entry
    entry.index = index
  }

  #down (index: number): void {
    const heap = this.#heap
    const length = heap.length
    const entry = heap[index]
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && this.#less(heap[right], heap[left]) ? right : left
      if (!this.#less(heap[child], entry)) break
      heap[index] = heap[child]
      heap[index].index = index
      index = child
    }
    heap[index] = entry
    entry.index = index
  }
}
