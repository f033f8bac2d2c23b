import {
  actionFamily, type EntryProof, expiresAt, expiryTombstone, type FstEvent, isActive, type LedgerEntry, ledgerKey, newer, prunable, sameVersion, type SignedEntry,
  tombstoneProof
} from '@fst/protocol'
import { open, type RootDatabase } from 'lmdb'
import { DigestIndex } from './digest.js'
import type { LedgerRefusal, LedgerRules } from './rules.js'
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

/** An entry as the store keeps it: with its origin's proof (protocol v2), absent only for a v1 ledger's entries. */
export type StoredEntry = LedgerEntry & { proof?: EntryProof }

export type { LedgerRefusal, LedgerRules } from './rules.js'

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
  /** Keys each origin holds as bans: the per-origin bound is checked against it in O(1). */
  private readonly bansByOrigin = new Map<string, number>()
  /** Keys of entries without a proof (a v1 ledger): not served by catch-up until re-signed (own) or replaced. */
  readonly unproven = new Set<string>()
  /** Versions handed to LMDB and not committed yet. */
  private readonly writing = new Map<string, StoredEntry>()
  private rules: LedgerRules = { self: '', maxActivePerOrigin: Infinity, mayLift: () => true }

  private constructor (private readonly db: RootDatabase<StoredEntry, string>) {
    for (const { key, value } of db.getRange()) {
      if (typeof key !== 'string') continue
      this.remember(key, value)
      if (value.proof === undefined) this.unproven.add(key)
    }
  }

  static open (path: string): Ledger {
    return new Ledger(open<StoredEntry, string>({ path, compression: false }))
  }

  /** `open` for the node's start: a store whose entries cannot be read is closed before the error goes on (ledger/open-store.ts). */
  static async load (path: string): Promise<Ledger> {
    const db = open<StoredEntry, string>({ path, compression: false })
    try {
      return new Ledger(db)
    } catch (err) {
      await db.close()
      throw err
    }
  }

  setRules (rules: LedgerRules): void {
    this.rules = rules
  }

  /** Keys `origin` holds as bans now. */
  bansOf (origin: string): number {
    return this.bansByOrigin.get(origin) ?? 0
  }

  private count (entry: LedgerEntry | undefined, delta: number): void {
    if (entry === undefined || actionFamily(entry.action).removes) return
    const n = (this.bansByOrigin.get(entry.origin) ?? 0) + delta
    if (n <= 0) this.bansByOrigin.delete(entry.origin)
    else this.bansByOrigin.set(entry.origin, n)
  }

  /** The stored version of a key, with its proof (catch-up serves this, never the in-memory copy). */
  stored (key: string): StoredEntry | undefined {
    return this.writing.get(key) ?? this.db.get(key)
  }

  /** Puts a version; until LMDB committed it, `stored` answers from here (a pull right after a ban finds it). */
  private put (key: string, entry: StoredEntry): Promise<unknown> {
    this.writing.set(key, entry)
    return this.db.put(key, entry).finally(() => { if (this.writing.get(key) === entry) this.writing.delete(key) })
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
    this.count(this.entries.get(key), -1)
    this.count(compact, 1)
    this.entries.set(key, compact)
    this.digest.set(key, compact)
    this.track(key, entry)
  }

  /** Memory now; the store once the proof is known (an own event's proof comes when its batch is signed). */
  private store (key: string, entry: LedgerEntry, proof?: EntryProof | Promise<EntryProof>): Promise<unknown> {
    this.remember(key, entry)
    if (proof === undefined) this.unproven.add(key)
    else this.unproven.delete(key)
    const { proof: _drop, ...plain } = entry as StoredEntry
    if (proof === undefined) return this.put(key, plain).then(() => this.db.flushed)
    // the proof arrives within a batch window; a version received meanwhile was written already and wins
    return Promise.resolve(proof).then(p => sameVersion(this.entries.get(key), plain) ? this.put(key, { ...plain, proof: p }) : undefined).then(() => this.db.flushed)
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
  apply (event: FstEvent, origin: string, now = Date.now(), proof?: EntryProof | Promise<EntryProof>): Change | null {
    const decided = this.decide({ ...event, origin }, now)
    if (decided === null || 'refused' in decided) return null
    const entry = decided.change.entry
    // an own ban that is already past its time is stored as its tombstone, which keeps the ban's proof
    const kept = entry.action === event.action || proof === undefined ? proof : Promise.resolve(proof).then(p => tombstoneProof({ ...event, origin }, p))
    return { ...decided.change, written: this.store(decided.key, entry, kept) }
  }

  /**
   * `apply` for many entries (a received batch, a catch-up page): the same decisions, one store transaction for all changes,
   * so every returned change shares one `written` promise.
   */
  applyMany (entries: readonly SignedEntry[], now = Date.now(), onRefused?: (reason: LedgerRefusal, entry: SignedEntry) => void): Change[] {
    const changes: Change[] = []
    const writes: Array<[string, SignedEntry]> = []
    let resolveWritten!: (v: unknown) => void
    const written = new Promise(resolve => { resolveWritten = resolve })
    for (const incoming of entries) {
      const decided = this.decide(incoming, now)
      if (decided === null) {
        // a v1 ledger's entry gets the proof of the same version when a peer serves it
        const key = ledgerKey(incoming)
        if (this.unproven.has(key) && sameVersion(this.entries.get(key), incoming)) {
          this.unproven.delete(key)
          const { proof: _drop, ...plain } = incoming
          writes.push([key, { ...plain, proof: incoming.proof }])
        }
        continue
      }
      if ('refused' in decided) {
        onRefused?.(decided.refused, incoming)
        continue
      }
      const entry = decided.change.entry
      const proof = entry === incoming ? incoming.proof : tombstoneProof(incoming, incoming.proof)
      const { proof: _drop, ...plain } = entry as SignedEntry
      this.remember(decided.key, plain)
      this.unproven.delete(decided.key)
      writes.push([decided.key, { ...plain, proof }])
      changes.push({ ...decided.change, written })
    }
    // one atomic batch: the puts are queued as instructions the write thread runs on its own; the
    // `db.transaction(callback)` used before made the write thread wait for this thread to run the callback
    if (writes.length === 0) resolveWritten(undefined)
    else {
      for (const [k, e] of writes) this.writing.set(k, e)
      resolveWritten(this.db.batch(() => { for (const [k, e] of writes) void this.db.put(k, e) }).then(() => this.db.flushed).finally(() => {
        for (const [k, e] of writes) if (this.writing.get(k) === e) this.writing.delete(k)
      }))
    }
    return changes
  }

  private decide (incoming: LedgerEntry, now: number): { key: string, change: Omit<Change, 'written'> } | { refused: LedgerRefusal } | null {
    const key = ledgerKey(incoming)
    const previous = this.entries.get(key)
    const { rules } = this
    const removes = actionFamily(incoming.action).removes
    const previousRemoves = previous !== undefined && actionFamily(previous.action).removes
    if (previous !== undefined && incoming.origin !== previous.origin) {
      // unban authority: a removal by someone who may not lift this ban never replaces it, and a ban still
      // active replaces such a removal whatever their times, so arrival order does not decide the outcome
      const overrides = !removes && previousRemoves && isActive(incoming, now) && !rules.mayLift(previous.origin, incoming)
      if (!overrides && !newer(incoming, previous)) return null
      if (removes && !previousRemoves && !rules.mayLift(incoming.origin, previous)) return { refused: 'unban_not_authorized' }
    } else if (previous !== undefined && !newer(incoming, previous)) {
      return null
    }
    // the per-origin bound: a ban of a key the origin does not hold as a ban yet, past its bound, is refused
    const counted = previous !== undefined && !previousRemoves && previous.origin === incoming.origin
    if (!removes && !counted && incoming.origin !== rules.self && expiresAt(incoming) > now && this.bansOf(incoming.origin) >= rules.maxActivePerOrigin) {
      return { refused: 'origin_limit' }
    }
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
      // every node derives the same tombstone, and its proof from the ban's
      const banProof = this.stored(key)?.proof
      void this.store(key, tombstone, banProof === undefined ? undefined : tombstoneProof(ban, banProof))
      out.push({ ban, tombstone })
    }
    return out
  }

  /** Stores the proof of the version a key holds now (upgrade from v1: ledger/upgrade.ts). */
  addProof (key: string, proof: EntryProof): Promise<unknown> {
    const entry = this.entries.get(key)
    if (entry === undefined) return Promise.resolve()
    this.unproven.delete(key)
    return this.put(key, { ...entry, proof })
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
  active (filter: Omit<LedgerFilter, 'all'> = {}, now = Date.now()): LedgerEntry[] { return this.list({ ...filter, all: false }, now) }

  /** Stored versions (with proofs) of one digest bucket's keys (catch-up serves these). */
  *storedInBucket (bucket: number): Generator<StoredEntry> {
    for (const key of this.digest.keysIn(bucket)) {
      const e = this.stored(key)
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
      this.count(e, -1)
      this.entries.delete(key)
      this.unproven.delete(key)
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

