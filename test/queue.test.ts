import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { FireQueue, MIN_HOLES, type QueueBucket, type QueueEntry } from '../lib/queue.js'

/**
 * Runs test/fixtures/queue-probe.ts in a child with --expose-gc, for heap
 * numbers after real full GCs; started at once, it runs beside the tests. The
 * child keeps this process's TypeScript loader but not its coverage.
 */
async function probe (): Promise<Record<string, number>> {
  const file = fileURLToPath(new URL('./fixtures/queue-probe.ts', import.meta.url))
  const loaders = process.execArgv.filter((arg) => !arg.includes('processinfo'))
  const env = { ...process.env }
  delete env.NODE_V8_COVERAGE
  const { stdout } = await promisify(execFile)(process.execPath, [...loaders, '--expose-gc', file], { env, maxBuffer: 1 << 20 })
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number>
}

// A million entries take a while on a busy machine, here and in the probe.
t.setTimeout(120_000)
const probed = probe()

function drain<T> (queue: FireQueue<T>): T[] {
  const out: T[] = []
  for (let entry = queue.pop(); entry !== undefined; entry = queue.pop()) out.push(entry.value)
  return out
}

function bucketOf<T> (entry: QueueEntry<T>): QueueBucket<T> {
  if (entry.bucket === null) throw new Error('not queued')
  return entry.bucket
}

/** What is wrong with a bucket's bookkeeping (slots point back at their entries, counts and head agree). */
function bucketProblems<T> (bucket: QueueBucket<T>): string[] {
  const problems: string[] = []
  const live = bucket.entries.filter((entry) => entry !== null)
  if (bucket.live !== live.length) problems.push(`live is ${bucket.live}, ${live.length} entries are not holes`)
  if (bucket.entries[bucket.head] == null) problems.push(`the head ${bucket.head} is not a live entry`)
  if (!bucket.entries.slice(0, bucket.head).every((entry) => entry === null)) problems.push('a live entry before the head')
  if (!bucket.entries.every((entry, slot) => entry === null || (entry.slot === slot && entry.bucket === bucket && entry.due === bucket.due))) {
    problems.push('slots or due times disagree')
  }
  return problems
}

function checkBucket<T> (t: Test, bucket: QueueBucket<T>): void {
  t.same(bucketProblems(bucket), [], 'the bucket\'s bookkeeping is consistent')
}

/** A small LCG: the same sequence on every run. */
function lcg (seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
}

t.test('pops in due order, ties first in first out', async (t) => {
  const queue = new FireQueue<string>()
  queue.push('c', 30)
  queue.push('a1', 10)
  queue.push('b', 20)
  queue.push('a2', 10)
  queue.push('a3', 10)
  t.equal(queue.size, 5)
  t.equal(queue.peek()?.value, 'a1', 'peek shows the earliest without removing it')
  t.equal(queue.size, 5)
  t.equal(bucketOf(queue.peek() as QueueEntry<string>).entries.length, 3, 'equal due times share a bucket')
  t.same(drain(queue), ['a1', 'a2', 'a3', 'b', 'c'])
  t.equal(queue.size, 0)
  t.equal(queue.peek(), undefined)
  t.equal(queue.pop(), undefined, 'pop on an empty queue')
})

t.test('fractional (jittered) due times: a bucket each, ties still first in first out', async (t) => {
  const queue = new FireQueue<string>()
  const a = queue.push('a', 10.5)
  const b = queue.push('b', 10.5)
  queue.push('c', 10.25)
  queue.push('d', 10)
  t.not(a.bucket, b.bucket, 'a fractional due time is not shared')
  t.equal(bucketOf(a).entries.length, 1)
  queue.update(a, 10.5)
  t.same(drain(queue), ['d', 'c', 'b', 'a'], 'a moved to its own due time goes behind its ties')
})

t.test('update to the same due time goes behind the ties', async (t) => {
  const queue = new FireQueue<string>()
  const a = queue.push('a', 10)
  queue.push('b', 10)
  queue.push('c', 10)
  queue.update(a, 10)
  t.same(drain(queue), ['b', 'c', 'a'])

  const alone = queue.push('alone', 20)
  const bucket = bucketOf(alone)
  queue.push('earlier', 5)
  queue.update(alone, 20)
  t.equal(alone.bucket, bucket, 'a lone entry keeps its bucket')
  t.equal(alone.due, 20)
  t.same(drain(queue), ['earlier', 'alone'])
})

t.test('a lone entry takes its bucket along; one that has company leaves it', async (t) => {
  const queue = new FireQueue<string>()
  const a = queue.push('a', 10)
  const bucket = bucketOf(a)
  queue.update(a, 30)
  t.equal(a.bucket, bucket, 'moved with its bucket: nothing allocated')
  t.equal(bucket.due, 30)
  const b = queue.push('b', 30)
  t.equal(b.bucket, bucket, 'the moved bucket is found at its new due time')
  queue.update(a, 30.5)
  t.not(a.bucket, bucket, 'with company, the entry leaves for a bucket of its own')
  t.equal(bucket.live, 1)
  queue.update(a, 40)
  t.equal(bucketOf(a).due, 40, 'from a fractional due time to a whole one')
  const c = queue.push('c', 40)
  t.equal(c.bucket, a.bucket, 'and it is found there')
  queue.update(b, 40)
  t.equal(b.bucket, a.bucket, 'a lone entry joins an existing bucket')
  t.equal(bucket.index, -1, 'its old bucket is out of the queue')
  queue.update(b, 40.25)
  queue.update(b, 50)
  t.equal(queue.size, 3)
  t.same(drain(queue), ['a', 'c', 'b'])
})

t.test('removal from the middle, the head and the tail of a bucket', async (t) => {
  const queue = new FireQueue<number>()
  const entries = Array.from({ length: 8 }, (_, i) => queue.push(i, 100))
  const bucket = bucketOf(entries[0])
  t.equal(queue.remove(entries[3]), true)
  t.equal(bucket.entries[3], null, 'a removed entry leaves a hole')
  t.equal(entries[3].bucket, null)
  t.equal(entries[3].slot, -1)
  queue.remove(entries[1])
  queue.remove(entries[0])
  t.equal(bucket.head, 2, 'removing the head skips the holes behind it')
  t.equal(queue.peek(), entries[2])
  queue.remove(entries[7])
  checkBucket(t, bucket)
  t.equal(queue.size, 4)
  t.same(drain(queue), [2, 4, 5, 6])
  t.equal(bucket.index, -1, 'a drained bucket leaves the heap')
})

t.test('a bucket is compacted when its holes outnumber its entries', async (t) => {
  const queue = new FireQueue<number>()
  const size = 4 * MIN_HOLES
  const entries = Array.from({ length: size }, (_, i) => queue.push(i, 100))
  const bucket = bucketOf(entries[0])
  const array = bucket.entries
  // Every other entry: as many holes as entries, not more.
  const removed = new Set<number>()
  for (let i = 1; i < size; i += 2) {
    queue.remove(entries[i])
    removed.add(i)
  }
  t.equal(bucket.entries, array, 'holes = entries: no compaction yet')
  t.equal(bucket.entries.length, size)
  queue.remove(entries[2])
  removed.add(2)
  t.not(bucket.entries, array, 'one more hole: a fresh array without the holes')
  t.equal(bucket.entries.length, bucket.live)
  t.equal(bucket.head, 0)
  checkBucket(t, bucket)
  const expected = entries.map((entry) => entry.value).filter((value) => !removed.has(value))
  t.same(bucket.entries.map((entry) => entry?.value), expected, 'in their order')

  // Few holes are left alone, even when they outnumber the entries.
  const small = new FireQueue<number>()
  const few = Array.from({ length: MIN_HOLES }, (_, i) => small.push(i, 1))
  const smallArray = bucketOf(few[0]).entries
  for (let i = 1; i < MIN_HOLES; i++) small.remove(few[i])
  t.equal(bucketOf(few[0]).entries, smallArray, 'below MIN_HOLES holes, no compaction')
  checkBucket(t, bucketOf(few[0]))
  t.same(drain(small), [0])
})

t.test('a lone entry with holes around it gets a fresh array when it moves', async (t) => {
  const queue = new FireQueue<string>()
  const a = queue.push('a', 10)
  const b = queue.push('b', 10)
  const c = queue.push('c', 10)
  queue.remove(a)
  queue.remove(c)
  const bucket = bucketOf(b)
  t.equal(bucket.entries.length, 3)
  queue.update(b, 10)
  t.same(bucket.entries, [b], 'same due time: holes released')
  t.equal(b.slot, 0)
  checkBucket(t, bucket)
  const d = queue.push('d', 20)
  const e = queue.push('e', 20)
  queue.remove(d)
  const other = bucketOf(e)
  queue.update(e, 25)
  t.equal(e.bucket, other, 'to another due time: the bucket goes along')
  t.same(other.entries, [e], 'without its hole')
  checkBucket(t, other)
  t.same(drain(queue), ['b', 'e'])
})

t.test('matches a reference model under random operations', async (t) => {
  interface Model { due: number, seq: number }
  let random = lcg(0)
  const scenarios = [
    // Few whole-ms due times: big buckets, compactions.
    { seed: 42, dues: () => Math.floor(random() * 5) * 1000 },
    // Many: small buckets, buckets coming and going.
    { seed: 7, dues: () => Math.floor(random() * 1000) },
    // Jittered: fractional due times, some equal on purpose, mixed with whole ones.
    { seed: 99, dues: () => [0, 0.5, 0.25][Math.floor(random() * 3)] + Math.floor(random() * 20) }
  ]
  for (const { seed, dues } of scenarios) {
    random = lcg(seed)
    const queue = new FireQueue<number>()
    const model = new Map<QueueEntry<number>, Model>()
    let seq = 0
    /** The model's first entry: the smallest (due, seq). */
    const first = (): QueueEntry<number> | undefined => {
      let best: [QueueEntry<number>, Model] | undefined
      for (const pair of model) {
        if (best === undefined || pair[1].due < best[1].due || (pair[1].due === best[1].due && pair[1].seq < best[1].seq)) best = pair
      }
      return best?.[0]
    }
    const entries: Array<QueueEntry<number>> = []
    const problems: string[] = []
    let compactions = 0
    const steps = 10_000
    for (let i = 0; i < steps; i++) {
      // A growing phase, then a shrinking one: buckets fill up, then empty (compactions).
      const growing = i < steps / 2
      const action = random()
      const entry = entries[Math.floor(random() * entries.length)]
      const headArray = queue.peek()?.bucket?.entries
      if (action < (growing ? 0.45 : 0.15) || entry === undefined) {
        const due = dues()
        const pushed = queue.push(entries.length, due)
        entries.push(pushed)
        model.set(pushed, { due, seq: seq++ })
      } else if (action < (growing ? 0.7 : 0.4)) {
        // Updates, also of entries taken out before, and to their own due time.
        const due = random() < 0.2 ? entry.due : dues()
        queue.update(entry, due)
        model.set(entry, { due, seq: seq++ })
      } else if (action < 0.9) {
        const queued = model.delete(entry)
        if (queue.remove(entry) !== queued) problems.push(`step ${i}: remove`)
      } else if (action < 0.95) {
        const expected = first()
        if (queue.pop() !== expected) problems.push(`step ${i}: pop`)
        if (expected !== undefined) model.delete(expected)
      } else if (queue.has(entry) !== model.has(entry)) {
        problems.push(`step ${i}: has`)
      }
      if (queue.size !== model.size) problems.push(`step ${i}: size`)
      const head = queue.peek()
      if (head !== first()) problems.push(`step ${i}: peek`)
      const bucket = head?.bucket
      if (bucket == null) continue
      if (i % 100 === 0) problems.push(...bucketProblems(bucket).map((problem) => `step ${i}: ${problem}`))
      if (headArray !== undefined && bucket.entries !== headArray && bucket.entries.length === bucket.live && headArray.length > bucket.live) compactions++
    }
    for (const queued of model.keys()) problems.push(...bucketProblems(bucketOf(queued)))
    t.same(problems.slice(0, 10), [], `seed ${seed}: peek, pop, has, remove, size and the buckets agree with the model at every step`)
    if (seed === 42) t.ok(compactions > 0, `seed ${seed}: buckets were compacted (${compactions} seen)`)
    const order = [...model].sort(([, a], [, b]) => a.due - b.due || a.seq - b.seq).map(([queued]) => queued.value)
    t.same(drain(queue), order, `seed ${seed}: drained in (due, first in first out) order`)
  }
})

t.test('update re-queues a removed or popped entry', async (t) => {
  const queue = new FireQueue<string>()
  const a = queue.push('a', 10)
  const b = queue.push('b', 20)
  const c = queue.push('c', 30)
  queue.update(c, 5)
  t.equal(queue.peek()?.value, 'c', 'moved up')
  queue.update(c, 50)
  t.equal(queue.peek()?.value, 'a', 'moved down')
  t.equal(queue.remove(b), true)
  t.equal(b.bucket, null, 'a removed entry forgets its bucket')
  t.equal(queue.has(b), false)
  t.equal(queue.remove(b), false, 'removing twice is a no-op')
  queue.update(b, 1)
  t.equal(queue.has(b), true, 'update queues a removed entry again')
  t.same(drain(queue), ['b', 'a', 'c'])
  t.equal(a.bucket, null, 'popped entries are no longer queued')
  queue.update(a, 3)
  t.same(drain(queue), ['a'])
})

t.test('remove of the last bucket, and of an entry of another queue', async (t) => {
  const queue = new FireQueue<string>()
  const other = new FireQueue<string>()
  queue.push('a', 1)
  const last = queue.push('b', 2)
  t.equal(queue.remove(last), true, 'the last slot of the heap needs no sifting')
  const foreign = other.push('x', 0)
  t.equal(queue.has(foreign), false)
  t.equal(queue.remove(foreign), false, 'an entry of another queue is not removed')
  other.push('y', 5)
  const deeper = other.push('z', 7)
  t.equal(queue.remove(deeper), false, 'not even when its bucket sits where one of ours does')
  t.equal(other.size, 3)
  t.equal(queue.size, 1)
})

t.test('clear empties the queue and unqueues every entry', async (t) => {
  const queue = new FireQueue<string>()
  const entries = [queue.push('a', 1), queue.push('b', 2), queue.push('c', 2), queue.push('d', 2.5)]
  queue.remove(entries[1])
  const buckets = entries.map((entry) => entry.bucket)
  queue.clear()
  t.equal(queue.size, 0)
  t.ok(entries.every((entry) => entry.bucket === null && entry.slot === -1))
  t.ok(buckets.every((bucket) => bucket === null || bucket.index === -1))
  t.equal(queue.peek(), undefined)
  t.equal(queue.has(entries[0]), false)
  queue.push('e', 2)
  queue.update(entries[2], 2)
  t.not(entries[2].bucket, buckets[2], 'no bucket from before the clear is reused')
  t.same(drain(queue), ['e', 'c'])
})

t.test('a million entries: insert and remove-by-handle stay cheap', async (t) => {
  const queue = new FireQueue<number>()
  const entries: Array<QueueEntry<number>> = []
  for (let i = 0; i < 1_000_000; i++) entries.push(queue.push(i, (i * 7919) % 1_000_003))
  t.equal(queue.size, 1_000_000)
  // Remove in insertion order: a linear search per removal would take hours.
  for (const entry of entries) queue.remove(entry)
  t.equal(queue.size, 0)

  // One bucket of 200,000, emptied from the back (each removal leaves a hole at
  // the end) and from the front: compaction keeps both linear.
  entries.length = 0
  for (let i = 0; i < 200_000; i++) entries.push(queue.push(i, 5))
  for (let i = entries.length - 1; i >= 100_000; i--) queue.remove(entries[i])
  t.equal(bucketOf(entries[0]).entries.length <= 2 * queue.size + MIN_HOLES, true, 'holes stay bounded')
  for (let i = 0; i < 100_000; i++) queue.remove(entries[i])
  t.equal(queue.size, 0)
  t.equal(queue.peek(), undefined)
})

t.test('a drained queue gives its memory back', async (t) => {
  const result = await probed
  t.ok(result.peak > 10_000_000, `the probe's queue is big at its peak (${(result.peak / 1e6).toFixed(1)} MB)`)
  t.ok(result.growth < 1_000_000, `after draining, the heap is within 1 MB of where it was (${(result.growth / 1e6).toFixed(2)} MB)`)
  t.equal(result.size, 0)
})
