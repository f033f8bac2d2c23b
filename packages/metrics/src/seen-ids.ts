import { entryTuple, type FstEvent } from '@fst/protocol'

/**
 * Identities of what the service recorded already (events, refused messages), so that a copy arriving again
 * is recognised. After a restart the new process's gossipsub seen cache is empty while the peers' message
 * caches still hold the last few heartbeats: their IHAVE gossip makes it fetch messages the history store
 * already replayed. Bounded by count (oldest recorded forgotten first) and by time: anything older than
 * `forgetAfterMs` is refused as stale by the validator before it gets here.
 */
export class SeenIds {
  // insertion order is recording order, which is close to time order: the oldest sit at the front
  private readonly times = new Map<string, number>()

  constructor (private readonly cap: number, private readonly forgetAfterMs: number, private readonly now: () => number) {}

  /** Marks `id` (from `time`) seen; false when it had been seen already. */
  add (id: string, time: number): boolean {
    if (this.times.has(id)) return false
    this.times.set(id, time)
    this.forget()
    return true
  }

  get size (): number {
    return this.times.size
  }

  private forget (): void {
    const cutoff = this.now() - this.forgetAfterMs
    for (const [id, time] of this.times) {
      if (this.times.size <= this.cap && time >= cutoff) break
      this.times.delete(id)
    }
  }
}

/** An event's identity: every field and its origin (what the origin signed, so a copy is equal in all). */
export function eventId (event: FstEvent, origin: string): string {
  return JSON.stringify(entryTuple({ ...event, origin }))
}
