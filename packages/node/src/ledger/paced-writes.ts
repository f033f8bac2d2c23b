/** One LMDB write: a put of `value`, or a remove when `value` is null. */
export type Write<V> = readonly [key: string, value: V | null]

/** The part of an lmdb-js store the pacer writes through. */
export interface WritableStore<V> {
  put: (key: string, value: V) => Promise<unknown>
  remove: (key: string) => Promise<unknown>
}

interface Unit<V> {
  writes: ReadonlyArray<Write<V>>
  resolve: (v: unknown) => void
  reject: (err: unknown) => void
}

/** Writes a store keeps handed to LMDB and not committed, at most (the ledger's: see below). */
export const MAX_UNCOMMITTED_WRITES = 32

/**
 * Keeps at most `limit` writes handed to LMDB and not yet committed, the rest queued in order. lmdb-js's write
 * thread puts everything it has been handed into its running transaction, so a burst (a catch-up page, the
 * backlog after a stall) becomes one transaction of thousands of writes; LMDB cannot give a transaction the
 * pages the ones before it freed, and the file grows by that transaction's pages and keeps them: the ledger's
 * file is set by its largest transaction (docs/benchmarks.md, "Why the witness's LMDB file grows"). A unit is
 * handed whole (its writes commit together), even past the limit when nothing else is in flight.
 */
export class PacedWrites<V> {
  private readonly queue: Array<Unit<V>> = []
  private inFlight = 0
  private drained: Array<() => void> = []

  constructor (private readonly db: WritableStore<V>, private readonly limit = MAX_UNCOMMITTED_WRITES) {}

  /** Resolves once every write of the unit is committed; units commit in the order they were given. */
  write (writes: ReadonlyArray<Write<V>>): Promise<unknown> {
    if (writes.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.queue.push({ writes, resolve, reject })
      this.pump()
    })
  }

  /** Writes queued here, not yet handed to LMDB. */
  get queued (): number {
    let n = 0
    for (const unit of this.queue) n += unit.writes.length
    return n
  }

  /** Resolves when nothing is queued or in flight (before `flushed` or a close). */
  idle (): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve()
    return new Promise(resolve => this.drained.push(resolve))
  }

  private pump (): void {
    while (this.queue.length > 0) {
      const unit = this.queue[0]!
      if (this.inFlight > 0 && this.inFlight + unit.writes.length > this.limit) return
      this.queue.shift()
      this.hand(unit)
    }
  }

  private hand (unit: Unit<V>): void {
    const n = unit.writes.length
    this.inFlight += n
    // handed in one synchronous turn, the writes share one lmdb-js transaction (its event-turn batching)
    Promise.all(unit.writes.map(([key, value]) => value === null ? this.db.remove(key) : this.db.put(key, value))).then(unit.resolve, unit.reject).finally(() => {
      this.inFlight -= n
      this.pump()
      if (this.inFlight === 0 && this.queue.length === 0) for (const done of this.drained.splice(0)) done()
    })
  }
}
