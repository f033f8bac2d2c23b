interface Entry {
  /** Issue time of the key's latest event. */
  time: number
  /** Expiry, ms since the epoch: Infinity until unbanned, 0 once unbanned (kept so a late older ban loses). */
  expires: number
  /** Whether `count` includes this entry. */
  counted: boolean
}

/** An active ban with an end, as the dashboard lists them. */
export interface Expiring {
  /** `family|name|ip` */
  key: string
  name: string
  ip: string
  expires: number
}

/** Expiries are looked for at most this often, so counting stays O(1) under a flood of timed bans. */
const SWEEP_MS = 1000

/**
 * The bans in force, by key, with last-writer-wins on issue time as in a node's ledger. Bounded: at most
 * `cap` keys (oldest written forgotten first); inactive keys are forgotten `forgetAfterMs` after their last event.
 * `count()` is O(1) between sweeps; an expiry shows within a second.
 */
export class ActiveSet {
  private readonly entries = new Map<string, Entry>()
  private active = 0
  private nextExpiry = Infinity
  private lastSweep = 0

  constructor (private readonly cap: number, private readonly forgetAfterMs: number, private readonly now: () => number) {}

  /** Applies one event: `expires` as above (0 for a removal). Older than the key's latest: no effect. */
  apply (key: string, time: number, expires: number): void {
    const prev = this.entries.get(key)
    if (prev !== undefined && prev.time > time) return
    if (prev?.counted === true) this.active--
    const counted = expires > this.now()
    if (counted) {
      this.active++
      if (expires < this.nextExpiry) this.nextExpiry = expires
    }
    // re-inserted so that Map order is oldest-written first, for eviction
    this.entries.delete(key)
    this.entries.set(key, { time, expires, counted })
    if (this.entries.size > this.cap) {
      const [oldestKey, oldest] = this.entries.entries().next().value!
      if (oldest.counted) this.active--
      this.entries.delete(oldestKey)
    }
  }

  count (): number {
    const now = this.now()
    if (now >= this.nextExpiry && now - this.lastSweep >= SWEEP_MS) this.sweep(now)
    return this.active
  }

  get size (): number {
    return this.entries.size
  }

  /** The `k` active keys with the nearest expiry (permanent bans excluded), soonest first: one pass. */
  soonest (k: number, now = this.now()): Expiring[] {
    const best: Array<[string, number]> = []
    for (const [key, e] of this.entries) {
      if (!e.counted || e.expires === Infinity || e.expires <= now) continue
      if (best.length === k && e.expires >= best[k - 1]![1]) continue
      best.push([key, e.expires])
      best.sort((a, b) => a[1] - b[1])
      if (best.length > k) best.pop()
    }
    return best.map(([key, expires]) => {
      const [, name = '', ip = ''] = key.split('|')
      return { key, name, ip, expires }
    })
  }

  private sweep (now: number): void {
    this.lastSweep = now
    this.nextExpiry = Infinity
    for (const [key, entry] of this.entries) {
      if (entry.counted && entry.expires <= now) {
        entry.counted = false
        this.active--
      }
      if (entry.counted) this.nextExpiry = Math.min(this.nextExpiry, entry.expires)
      else if (entry.time < now - this.forgetAfterMs) this.entries.delete(key)
    }
  }
}
