/**
 * A pending fire in the queue. The entry is its own handle: it remembers its
 * bucket and its slot there, so removing or moving it costs O(1) (plus
 * O(log b) for b distinct due times when its bucket comes or goes) instead of a
 * search: removing a million jobs must not be quadratic.
 */
export interface QueueEntry<T> {
  readonly value: T
  /** When it is due, epoch ms. Change it only through `FireQueue.update`. */
  due: number
  /** The bucket it is queued in, null while not queued. Owned by the queue. */
  bucket: QueueBucket<T> | null
  /** Its position in `bucket.entries`, -1 while not queued. Owned by the queue. */
  slot: number
}

/** The entries due at one instant, first in first out. Owned by the queue. */
export interface QueueBucket<T> {
  due: number
  /** When it was made or last moved: orders buckets of the same due time (see FireQueue). */
  seq: number
  /** In the order they were queued; a removed entry leaves a null hole until the bucket is compacted. */
  entries: Array<QueueEntry<T> | null>
  /** The slot of the first live entry: never a hole while the bucket is queued. */
  head: number
  /** How many entries are live (not holes); a queued bucket has at least one. */
  live: number
  /** Position in the heap of buckets, -1 once out of it. */
  index: number
}

/**
 * A bucket is rebuilt without its holes when they outnumber its live entries
 * and are at least this many: its array stays within 2 × live + MIN_HOLES slots,
 * and the copying, paid for by the removals that made the holes, stays O(1)
 * per removal.
 */
export const MIN_HOLES = 16

/**
 * The pending fires, ordered by due time, then first in first out. No timers,
 * no I/O: the scheduler arms one timer for `peek()`.
 *
 * Entries with the same due time share a bucket (10,000 every-second cron jobs
 * are due at the same instant, and each fire re-queues its job a second later):
 * queueing at a due time that has a bucket is a Map lookup and an array push.
 * The buckets, one per distinct due time, are in a binary min-heap; a bucket
 * enters it when its first entry comes and leaves it when its last one goes.
 * An entry that is alone in its bucket takes the bucket with it when it moves
 * to a due time nobody else has: one heap sift, no allocation.
 *
 * Only whole-ms due times are looked up in the Map. Every fire time is a whole
 * ms; a fractional due time is a jittered one, random to the last bit and
 * practically never shared, and a Map lookup per fire would only cost. Such an
 * entry gets a bucket of its own, outside the Map: buckets are ordered by due
 * time, then by `seq`, and a bucket outside the Map never gets a second entry,
 * so entries with equal due times still come out first in first out.
 */
export class FireQueue<T> {
  #heap: Array<QueueBucket<T>> = []
  #byDue = new Map<number, QueueBucket<T>>()
  /** The bucket last queued into: the next entry most likely goes there too (the rest of the burst). */
  #last: QueueBucket<T> | null = null
  #size = 0
  #seq = 0

  get size (): number {
    return this.#size
  }

  /** Queues `value` at `due`; the returned entry is the handle for update/remove. */
  push (value: T, due: number): QueueEntry<T> {
    const entry: QueueEntry<T> = { value, due, bucket: null, slot: -1 }
    this.#append(entry, due)
    return entry
  }

  /**
   * Moves an entry of this queue to a new due time, queueing it again if it was
   * removed or popped. It goes behind the entries already due then, also when
   * the due time is its own.
   */
  update (entry: QueueEntry<T>, due: number): void {
    const bucket = entry.bucket
    if (bucket !== null) {
      if (bucket.live === 1) {
        const target = Number.isInteger(due) ? this.#find(due) : undefined
        if (target === undefined || target === bucket) {
          this.#move(bucket, entry, due)
          return
        }
      }
      this.#unlink(bucket, entry)
    }
    this.#append(entry, due)
  }

  /** Takes an entry out of the queue; false when it wasn't queued (here). */
  remove (entry: QueueEntry<T>): boolean {
    const bucket = entry.bucket
    if (bucket === null || this.#heap[bucket.index] !== bucket) return false
    this.#unlink(bucket, entry)
    return true
  }

  has (entry: QueueEntry<T>): boolean {
    const bucket = entry.bucket
    return bucket !== null && this.#heap[bucket.index] === bucket
  }

  /** The entry due first (ties: the one queued first), without removing it. */
  peek (): QueueEntry<T> | undefined {
    const top = this.#heap[0]
    return top === undefined ? undefined : top.entries[top.head] as QueueEntry<T>
  }

  /** Removes and returns the entry due first. */
  pop (): QueueEntry<T> | undefined {
    const top = this.peek()
    if (top !== undefined) this.remove(top)
    return top
  }

  clear (): void {
    for (const bucket of this.#heap) {
      for (const entry of bucket.entries) {
        if (entry !== null) {
          entry.bucket = null
          entry.slot = -1
        }
      }
      bucket.index = -1
    }
    this.#heap = []
    this.#byDue = new Map()
    this.#last = null
    this.#size = 0
  }

  /** The queued bucket for `due`, a whole number of ms, if any. */
  #find (due: number): QueueBucket<T> | undefined {
    const last = this.#last
    return last !== null && last.due === due ? last : this.#byDue.get(due)
  }

  /** Queues an entry that isn't queued at the back of `due`'s bucket, making the bucket if needed. */
  #append (entry: QueueEntry<T>, due: number): void {
    const shared = Number.isInteger(due)
    let bucket = shared ? this.#find(due) : undefined
    if (bucket === undefined) {
      bucket = { due, seq: this.#seq++, entries: [entry], head: 0, live: 1, index: this.#heap.length }
      entry.slot = 0
      if (shared) this.#byDue.set(due, bucket)
      this.#heap.push(bucket)
      this.#up(bucket.index)
    } else {
      entry.slot = bucket.entries.length
      bucket.entries.push(entry)
      bucket.live++
    }
    if (shared) this.#last = bucket
    entry.due = due
    entry.bucket = bucket
    this.#size++
  }

  /** Takes a queued entry out of its bucket, and the bucket out of the queue when it was the last. */
  #unlink (bucket: QueueBucket<T>, entry: QueueEntry<T>): void {
    const slot = entry.slot
    entry.bucket = null
    entry.slot = -1
    this.#size--
    if (--bucket.live === 0) {
      this.#drop(bucket)
      return
    }
    const entries = bucket.entries
    entries[slot] = null
    // The head is the first live entry, and some entry after it is still live.
    if (slot === bucket.head) while (entries[bucket.head] === null) bucket.head++
    const holes = entries.length - bucket.live
    if (holes > bucket.live && holes >= MIN_HOLES) this.#compact(bucket)
  }

  /**
   * The bucket of a lone entry moves with it to `due`, where no bucket of the
   * Map is. It goes behind the buckets already there (outside the Map), also
   * when `due` is its own.
   */
  #move (bucket: QueueBucket<T>, entry: QueueEntry<T>, due: number): void {
    if (bucket.entries.length !== 1) {
      // Holes only besides the entry: a fresh array releases them.
      bucket.entries = [entry]
      bucket.head = 0
      entry.slot = 0
    }
    entry.due = due
    if (bucket.due !== due) {
      if (Number.isInteger(bucket.due)) this.#byDue.delete(bucket.due)
      if (Number.isInteger(due)) this.#byDue.set(due, bucket)
      bucket.due = due
    }
    bucket.seq = this.#seq++
    this.#up(bucket.index)
    this.#down(bucket.index)
  }

  /** Rebuilds a bucket's array with its live entries only, in their order. */
  #compact (bucket: QueueBucket<T>): void {
    const kept: Array<QueueEntry<T> | null> = []
    for (const entry of bucket.entries) {
      if (entry !== null) {
        entry.slot = kept.length
        kept.push(entry)
      }
    }
    bucket.entries = kept
    bucket.head = 0
  }

  /** Takes an empty bucket out of the heap and the index. */
  #drop (bucket: QueueBucket<T>): void {
    if (Number.isInteger(bucket.due)) this.#byDue.delete(bucket.due)
    if (this.#last === bucket) this.#last = null
    const index = bucket.index
    bucket.index = -1
    const last = this.#heap.pop() as QueueBucket<T>
    if (last !== bucket) {
      this.#heap[index] = last
      last.index = index
      this.#up(index)
      this.#down(last.index)
    } else if (this.#heap.length === 0) {
      // A drained heap gets a fresh array: V8 keeps a shrunk array's backing
      // store, and after a million removals that would be megabytes held for
      // nothing. (A Map gives its table back by itself.)
      this.#heap = []
    }
  }

  /** Whether bucket `a` comes before bucket `b`. */
  #before (a: QueueBucket<T>, b: QueueBucket<T>): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq)
  }

  #up (index: number): void {
    const heap = this.#heap
    const bucket = heap[index]
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = heap[parentIndex]
      if (!this.#before(bucket, parent)) break
      heap[index] = parent
      parent.index = index
      index = parentIndex
    }
    heap[index] = bucket
    bucket.index = index
  }

  #down (index: number): void {
    const heap = this.#heap
    const length = heap.length
    const bucket = heap[index]
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && this.#before(heap[right], heap[left]) ? right : left
      if (!this.#before(heap[child], bucket)) break
      heap[index] = heap[child]
      heap[index].index = index
      index = child
    }
    heap[index] = bucket
    bucket.index = index
  }
}
