import t from 'tap'
import { FireQueue, type QueueEntry } from '../lib/queue.js'

function drain<T> (queue: FireQueue<T>): T[] {
  const out: T[] = []
  for (let entry = queue.pop(); entry !== undefined; entry = queue.pop()) out.push(entry.value)
  return out
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
  t.same(drain(queue), ['a1', 'a2', 'a3', 'b', 'c'])
  t.equal(queue.size, 0)
  t.equal(queue.peek(), undefined)
  t.equal(queue.pop(), undefined, 'pop on an empty queue')
})

t.test('matches a sorted list under random pushes, updates and removals', async (t) => {
  let seed = 42
  const random = (): number => {
    // A small LCG: the same sequence on every run.
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  const queue = new FireQueue<number>()
  const live = new Set<QueueEntry<number>>()
  for (let i = 0; i < 5000; i++) {
    const action = random()
    if (action < 0.5 || live.size === 0) {
      live.add(queue.push(i, Math.floor(random() * 1000)))
    } else {
      const entries = [...live]
      const entry = entries[Math.floor(random() * entries.length)]
      if (action < 0.75) {
        queue.update(entry, Math.floor(random() * 1000))
      } else {
        t.equal(queue.remove(entry), true)
        live.delete(entry)
      }
    }
  }
  t.equal(queue.size, live.size)
  const expected = [...live].sort((a, b) => a.due - b.due || a.seq - b.seq).map((entry) => entry.value)
  t.same(drain(queue), expected)
})

t.test('update moves an entry both ways and re-queues a removed one', async (t) => {
  const queue = new FireQueue<string>()
  const a = queue.push('a', 10)
  const b = queue.push('b', 20)
  const c = queue.push('c', 30)
  queue.update(c, 5)
  t.equal(queue.peek()?.value, 'c', 'moved up')
  queue.update(c, 50)
  t.equal(queue.peek()?.value, 'a', 'moved down')
  t.equal(queue.remove(b), true)
  t.equal(b.index, -1, 'a removed entry forgets its position')
  t.equal(queue.has(b), false)
  t.equal(queue.remove(b), false, 'removing twice is a no-op')
  queue.update(b, 1)
  t.equal(queue.has(b), true, 'update queues a removed entry again')
  t.same(drain(queue), ['b', 'a', 'c'])
  t.equal(a.index, -1, 'popped entries are no longer queued')
})

t.test('remove of the last entry, and of an entry of another queue', async (t) => {
  const queue = new FireQueue<string>()
  const other = new FireQueue<string>()
  queue.push('a', 1)
  const last = queue.push('b', 2)
  t.equal(queue.remove(last), true, 'the last slot needs no sifting')
  const foreign = other.push('x', 0)
  t.equal(queue.has(foreign), false)
  t.equal(queue.remove(foreign), false, 'an entry of another queue is not removed')
  t.equal(other.size, 1)
  t.equal(queue.size, 1)
})

t.test('clear empties the queue and unqueues every entry', async (t) => {
  const queue = new FireQueue<string>()
  const entries = [queue.push('a', 1), queue.push('b', 2)]
  queue.clear()
  t.equal(queue.size, 0)
  t.ok(entries.every((entry) => entry.index === -1))
  t.equal(queue.peek(), undefined)
})

t.test('a million entries: insert and remove-by-handle stay O(log n)', async (t) => {
  const queue = new FireQueue<number>()
  const entries: Array<QueueEntry<number>> = []
  for (let i = 0; i < 1_000_000; i++) entries.push(queue.push(i, (i * 7919) % 1_000_003))
  t.equal(queue.size, 1_000_000)
  // Remove in insertion order: a linear search per removal would take hours.
  for (const entry of entries) queue.remove(entry)
  t.equal(queue.size, 0)
})
