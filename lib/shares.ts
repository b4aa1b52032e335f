/**
 * Which instance of a fleet claims a job's fires first. Every instance claims
 * every due fire (so a fire runs as long as one instance is alive), but if all
 * did so at once, each fire would cost the store one claim per instance, all
 * contending for the same job: the store's work would grow with the fleet.
 * Instead each job has one preferred instance, chosen by rendezvous hashing
 * over the live instances (the one whose hash with the job id is highest): it
 * claims at the due time, and the others send their claims a moment later as a
 * backup, which the store nearly always answers 'taken' from the job's
 * watermark without a lock. When an instance joins or leaves, only the jobs it
 * gains or loses change hands.
 *
 * The instances' views of the fleet may disagree for a heartbeat or so (one
 * has seen a new instance, another not yet): then a job has two preferred
 * instances (both claim at once; the store still lets one win) or none (the
 * backups claim it a moment late). Neither loses nor doubles a fire.
 */
export class FleetShares {
  readonly #self: string
  /** The other live instances' hashes; this instance's own is #selfHash. */
  #others: number[] = []
  readonly #selfHash: number
  /** Bumped when the fleet changes: a job's cached answer is valid for one epoch. */
  #epoch = 0

  constructor (selfId: string) {
    this.#self = selfId
    this.#selfHash = hashString(selfId)
  }

  get epoch (): number {
    return this.#epoch
  }

  /** The live instances' ids, as the store last listed them (this one is counted whether listed or not). */
  update (ids: readonly string[]): void {
    const others = [...new Set(ids)].filter((id) => id !== this.#self).map(hashString).sort((a, b) => a - b)
    if (others.length === this.#others.length && others.every((hash, i) => hash === this.#others[i])) return
    this.#others = others
    this.#epoch++
  }

  /** Whether this instance is the one to claim `jobId`'s fires at their due time. */
  isMine (jobId: string): boolean {
    if (this.#others.length === 0) return true
    const job = hashString(jobId)
    const mine = weight(job, this.#selfHash)
    // Weights tie only between instances whose ids hash alike (weight is one-to-one in the
    // instance's hash): then neither claims first, and their jobs are claimed by backups.
    return this.#others.every((other) => mine > weight(job, other))
  }
}

/** FNV-1a over the string's UTF-16 code units: fast, and the same in every process. */
function hashString (text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** A job's weight at an instance: the two hashes mixed (MurmurHash3's finalizer), so every bit of each moves the result. */
function weight (job: number, instance: number): number {
  let h = (job ^ Math.imul(instance, 0x9e3779b1)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
