import { actionFamily, newer, type SignedEntry } from '@fst/protocol'
import { open, type RootDatabase } from 'lmdb'
import { DigestIndex } from './digest.js'
import { SMALL_STORE_MAP_BYTES, storeOptions } from './store-options.js'

/** Key of a held report: the quorum's `action|ip`, and who reported it. */
export function heldKey (e: Pick<SignedEntry, 'action' | 'ip' | 'origin'>): string {
  return `${e.action}|${e.ip}|${e.origin}`
}

/**
 * Reports of an action with a quorum rule, each with its origin's proof, kept for the rule's window whether the
 * quorum was reached or not. That makes the set a function of the reports a node has seen and of the clock,
 * the same on every node once gossip settles, so it has its own digest, reconciled by catch-up like the
 * ledger (buckets 1024-2047), and it survives a restart (its own LMDB file next to the ledger's).
 * A node that missed a report gets it, with its proof, from any peer and counts it toward the quorum.
 */
export class HeldReports {
  private readonly reports = new Map<string, SignedEntry>()
  /** Reports held per origin: bounded like its bans (config `limits.maxActivePerOrigin`). */
  private readonly perOrigin = new Map<string, number>()
  readonly digest = new DigestIndex()

  private constructor (private readonly db: RootDatabase<SignedEntry, string>) {
    for (const { key, value } of db.getRange()) {
      if (typeof key === 'string' && value?.proof !== undefined) this.remember(key, value)
    }
  }

  static open (path: string): HeldReports {
    return new HeldReports(open<SignedEntry, string>({ path, ...storeOptions(SMALL_STORE_MAP_BYTES) }))
  }

  /** `open` for the node's start: closed again when its entries cannot be read (ledger/open-store.ts). */
  static async load (path: string): Promise<HeldReports> {
    const db = open<SignedEntry, string>({ path, ...storeOptions(SMALL_STORE_MAP_BYTES) })
    try {
      return new HeldReports(db)
    } catch (err) {
      await db.close()
      throw err
    }
  }

  private remember (key: string, e: SignedEntry): void {
    if (!this.reports.has(key)) this.perOrigin.set(e.origin, this.countOf(e.origin) + 1)
    this.reports.set(key, e)
    this.digest.set(key, e)
  }

  get size (): number {
    return this.reports.size
  }

  /** Every held report (start-up: the quorum tracker is rebuilt from them). */
  values (): IterableIterator<SignedEntry> {
    return this.reports.values()
  }

  countOf (origin: string): number {
    return this.perOrigin.get(origin) ?? 0
  }

  has (key: string): boolean {
    return this.reports.has(key)
  }

  get (key: string): SignedEntry | undefined {
    return this.reports.get(key)
  }

  /** Keeps a report if it is newer than the one its origin has held for the address; null when it is not. */
  put (e: SignedEntry): Promise<unknown> | null {
    const key = heldKey(e)
    const previous = this.reports.get(key)
    if (previous !== undefined && !newer(e, previous)) return null
    this.remember(key, e)
    return this.db.put(key, e).then(() => this.db.flushed)
  }

  /** An origin's removal (unban) withdraws its reports of that address issued before it. */
  withdraw (removal: Pick<SignedEntry, 'action' | 'ip' | 'origin' | 'time'>): void {
    const { family } = actionFamily(removal.action)
    const key = heldKey({ action: family, ip: removal.ip, origin: removal.origin })
    const held = this.reports.get(key)
    if (held !== undefined && held.time < removal.time) this.remove(key)
  }

  /** Drops reports older than their action's window; returns how many. */
  purge (windowMs: (action: string) => number, now = Date.now()): number {
    let dropped = 0
    for (const [key, e] of this.reports) {
      if (e.time >= now - windowMs(e.action)) continue
      this.remove(key)
      dropped++
    }
    return dropped
  }

  private remove (key: string): void {
    const e = this.reports.get(key)
    if (e === undefined) return
    const n = this.countOf(e.origin) - 1
    if (n <= 0) this.perOrigin.delete(e.origin)
    else this.perOrigin.set(e.origin, n)
    this.reports.delete(key)
    this.digest.delete(key)
    void this.db.remove(key)
  }

  /** Reports of one digest bucket (catch-up). */
  *inBucket (bucket: number): Generator<SignedEntry> {
    for (const key of this.digest.keysIn(bucket)) {
      const e = this.reports.get(key)
      if (e !== undefined) yield e
    }
  }

  async close (): Promise<void> {
    await this.db.flushed
    await this.db.close()
  }
}
