import { expiresAt, expiryTombstone, type FstEvent, isActive, type LedgerEntry, ledgerKey, newer, prunable } from '@fst/protocol'
import { open, type RootDatabase } from 'lmdb'
import { DigestIndex } from './digest.js'
import { EntryCompactor } from './compact-entry.js'

/** What applying an event changed, if anything. */
export interface Change {
  entry: LedgerEntry
  /** The key was active (banned) before. */
  wasActive: boolean
  /** The key is active now. */
  isActive: boolean
  /** Resolves once the change is committed and flushed to disk. */
  written: Promise<unknown>
}

/** Entries a filter picks for `fst list`. */
export interface LedgerFilter {
  action?: string
  name?: string
  ip?: string
  /** Include removed and expired entries (tombstones). */
  all?: boolean
}

/**
 * Every node's durable record of the mesh: the latest event per key, in an LMDB store (crash-safe,
 * copy-on-write) mirrored in memory for lookups, plus a per-bucket digest for catch-up.
 */
export class Ledger {
  private readonly entries = new Map<string, LedgerEntry>()
  /** Keys of bans with a duration, with their expiry time (also past ones until the sweeper takes them). */
  private readonly expiring = new Map<string, number>()
  readonly digest = new DigestIndex()
  private readonly compactor = new EntryCompactor()

  private constructor (private readonly db: RootDatabase<LedgerEntry, string>) {
    for (const { key, value } of db.getRange()) this.remember(key, value)
  }

  static open (path: string): Ledger {
    return new Ledger(open<LedgerEntry, string>({ path, compression: false }))
  }

  private track (key: string, entry: LedgerEntry): void {
    const end = expiresAt(entry)
    if (end !== Infinity) this.expiring.set(key, end)
    else this.expiring.delete(key)
  }

  /** Updates memory and digest; the caller writes to the store. */
  private remember (key: string, entry: LedgerEntry): void {
    // memory holds a compact copy (shared strings, one shape); the store gets the entry as given
    const compact = this.compactor.compact(entry)
    this.entries.set(key, compact)
    this.digest.set(key, compact)
    this.track(key, entry)
  }

  private store (key: string, entry: LedgerEntry): Promise<unknown> {
    this.remember(key, entry)
    return this.db.put(key, entry).then(() => this.db.flushed)
  }

  get size (): number {
    return this.entries.size
  }

  get (key: string): LedgerEntry | undefined {
    return this.entries.get(key)
  }

  values (): IterableIterator<LedgerEntry> {
    return this.entries.values()
  }

  /**
   * Applies an event if it is newer than what the ledger holds for its key; returns null when it is not.
   * A ban that has already expired is stored as its expiry tombstone. The decision is synchronous, so
   * concurrent callers see each other's changes; `written` tells when it is durable.
   */
  apply (event: FstEvent, origin: string, now = Date.now()): Change | null {
    const decided = this.decide({ ...event, origin }, now)
    if (decided === null) return null
    return { ...decided.change, written: this.store(decided.key, decided.change.entry) }
  }

  /**
   * `apply` for many entries (a received batch, a catch-up page): the same decisions, one store transaction for all changes,
   * so every returned change shares one `written` promise.
   */
  applyMany (entries: readonly LedgerEntry[], now = Date.now()): Change[] {
    const changes: Change[] = []
    const writes: Array<[string, LedgerEntry]> = []
    let resolveWritten!: (v: unknown) => void
    const written = new Promise(resolve => { resolveWritten = resolve })
    for (const incoming of entries) {
      const decided = this.decide(incoming, now)
      if (decided === null) continue
      this.remember(decided.key, decided.change.entry)
      writes.push([decided.key, decided.change.entry])
      changes.push({ ...decided.change, written })
    }
    // one atomic batch: the puts are queued as instructions the write thread runs on its own; the
    // `db.transaction(callback)` used before made the write thread wait for this thread to run the callback
    if (writes.length === 0) resolveWritten(undefined)
    else resolveWritten(this.db.batch(() => { for (const [k, e] of writes) void this.db.put(k, e) }).then(() => this.db.flushed))
    return changes
  }

  private decide (incoming: LedgerEntry, now: number): { key: string, change: Omit<Change, 'written'> } | null {
    const key = ledgerKey(incoming)
    const previous = this.entries.get(key)
    if (previous !== undefined && !newer(incoming, previous)) return null
    const entry = expiresAt(incoming) <= now ? expiryTombstone(incoming) : incoming
    // a ban past its time whose expiry has not been swept yet still counts as active: its unban has not run,
    // and an unban arriving now (the origin's) must run it, or it would run nowhere
    const wasActive = previous !== undefined && (isActive(previous, now) || this.expiring.has(key))
    return { key, change: { entry, wasActive, isActive: isActive(entry, now) } }
  }

  /**
   * Bans whose time is up: each is replaced by its expiry tombstone and returned once, for its unban to run.
   * On open this includes bans that expired while the node was down.
   */
  expire (now = Date.now()): Array<{ ban: LedgerEntry, tombstone: LedgerEntry }> {
    const out: Array<{ ban: LedgerEntry, tombstone: LedgerEntry }> = []
    for (const [key, end] of this.expiring) {
      if (end > now) continue
      const ban = this.entries.get(key)
      if (ban === undefined) {
        this.expiring.delete(key)
        continue
      }
      const tombstone = expiryTombstone(ban)
      void this.store(key, tombstone)
      out.push({ ban, tombstone })
    }
    return out
  }

  /** Entries matching a filter; active ones only unless `all`. */
  list (filter: LedgerFilter = {}, now = Date.now()): LedgerEntry[] {
    const out: LedgerEntry[] = []
    for (const e of this.entries.values()) {
      if (filter.all !== true && !isActive(e, now)) continue
      if (filter.action !== undefined && e.action !== filter.action) continue
      if (filter.name !== undefined && e.name !== filter.name) continue
      if (filter.ip !== undefined && e.ip !== filter.ip) continue
      out.push(e)
    }
    return out
  }

  /** Entries active now, optionally filtered. */
  active (filter: Omit<LedgerFilter, 'all'> = {}, now = Date.now()): LedgerEntry[] {
    return this.list({ ...filter, all: false }, now)
  }

  /** Keys of one digest bucket with their entries (catch-up). */
  *inBucket (bucket: number): Generator<LedgerEntry> {
    for (const key of this.digest.keysIn(bucket)) {
      const e = this.entries.get(key)
      if (e !== undefined) yield e
    }
  }

  /**
   * Drops tombstones (removals, and bans past their expiry) older than `retentionMs`. A node that was away
   * longer than that may bring back a ban whose removal was pruned here: see docs/protocol.md.
   */
  async prune (retentionMs: number, now = Date.now()): Promise<number> {
    let dropped = 0
    for (const [key, e] of this.entries) {
      if (!prunable(e, retentionMs, now)) continue
      this.entries.delete(key)
      this.expiring.delete(key)
      this.digest.delete(key)
      void this.db.remove(key)
      dropped++
    }
    await this.db.flushed
    return dropped
  }

  async close (): Promise<void> {
    await this.db.flushed
    await this.db.close()
  }
}
