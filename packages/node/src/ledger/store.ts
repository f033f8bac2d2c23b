import {
  actionFamily, type EntryProof, expiresAt, expiryTombstone, type FstEvent, isActive, type LedgerEntry, ledgerKey, newer, provenEntry, prunable, sameVersion, type SignedEntry,
  tombstoneProof
} from '@fst/protocol'
import { open, type RootDatabase } from 'lmdb'
import { DigestIndex } from './digest.js'
import { ExpiryIndex } from './expiry-index.js'
import { LEDGER_MAP_BYTES, storeOptions } from './store-options.js'
import type { LedgerRefusal, LedgerRules } from './rules.js'
import { EntryCompactor } from './compact-entry.js'
import { fromRecord, type LedgerRecord, type StoredEntry, toRecord } from './record.js'
import { before, RemovalBound } from './removal-bound.js'
import { resolve } from './standing.js'

/** Store keys of a key's rivals (standing bans behind the held entry): a prefix no ledger key has. */
const RIVALS = '\u0001rivals|'

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

export type { StoredEntry } from './record.js'

export type { LedgerRefusal, LedgerRules } from './rules.js'

type Store = RootDatabase<LedgerRecord | LedgerRecord[], string>
type DecidedChange = Omit<Change, 'written'> & { source: LedgerEntry }
type Decision = { key: string, change: DecidedChange | null, rivals?: StoredEntry[] } | { refused: LedgerRefusal } | null

/** The time a removal is stored with: its own, or for a ban already past its time, its expiry. */
function expiresAtOrTime (e: LedgerEntry): number {
  return actionFamily(e.action).removes ? e.time : expiresAt(e)
}

/** An expiry tombstone as the ban it derives from (its proof names it), anything else as it is. */
function asReported<E extends LedgerEntry & { proof?: EntryProof }> (e: E | undefined): E | undefined {
  if (e?.proof?.bt === undefined) return e
  const ban = provenEntry(e, e.proof)
  return ban.valid ? { ...e, ...ban.value } : e
}

function sameReports (a: readonly LedgerEntry[], b: readonly LedgerEntry[]): boolean {
  return a.length === b.length && a.every(x => b.some(y => sameVersion(x, y)))
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
  private readonly expiring = new ExpiryIndex()
  readonly digest = new DigestIndex()
  private readonly compactor = new EntryCompactor()
  /** Keys each origin holds as bans: the per-origin bound is checked against it in O(1). */
  private readonly bansByOrigin = new Map<string, number>()
  private changeCount = 0
  /** Keys of entries without a proof (a v1 ledger): not served by catch-up until re-signed (own) or replaced. */
  readonly unproven = new Set<string>()
  /** Versions handed to LMDB and not committed yet. */
  private readonly writing = new Map<string, StoredEntry>()
  /** Per key, active bans of other origins that the held entry's writer may not end (ledger/standing.ts). */
  private readonly rivals = new Map<string, StoredEntry[]>()
  /** Each origin's removals, oldest first: bounded by `maxRemovalsPerOrigin`. */
  private readonly removals = new RemovalBound()
  private rules: LedgerRules = { self: '', maxActivePerOrigin: Infinity, maxRemovalsPerOrigin: Infinity, maxEntries: Infinity, mayEnd: () => true }

  private constructor (private readonly db: Store) {
    for (const { key, value } of db.getRange()) {
      if (typeof key !== 'string') continue
      if (key.startsWith(RIVALS)) {
        this.setRivals(key.slice(RIVALS.length), (value as LedgerRecord[]).map(fromRecord))
        continue
      }
      const entry = value as LedgerRecord
      this.remember(key, entry)
      if (entry.proof === undefined) this.unproven.add(key)
    }
  }

  static open (path: string): Ledger {
    return new Ledger(open<LedgerRecord | LedgerRecord[], string>({ path, ...storeOptions(LEDGER_MAP_BYTES, true) }))
  }

  /** `open` for the node's start: a store whose entries cannot be read is closed before the error goes on (ledger/open-store.ts). */
  static async load (path: string): Promise<Ledger> {
    const db = open<LedgerRecord | LedgerRecord[], string>({ path, ...storeOptions(LEDGER_MAP_BYTES, true) })
    try {
      return new Ledger(db)
    } catch (err) {
      await db.close()
      throw err
    }
  }

  setRules (rules: LedgerRules): void {
    this.rules = rules
    for (const origin of this.removals.origins()) this.evictRemovals(origin)
  }

  /** Keys `origin` holds as bans now. */
  bansOf (origin: string): number {
    return this.bansByOrigin.get(origin) ?? 0
  }

  private count (key: string, entry: LedgerEntry | undefined, delta: number): void {
    if (entry === undefined) return
    if (actionFamily(entry.action).removes) {
      if (delta > 0) this.removals.add(entry.origin, key, entry.time)
      else this.removals.delete(entry.origin, key)
      return
    }
    const n = (this.bansByOrigin.get(entry.origin) ?? 0) + delta
    if (n <= 0) this.bansByOrigin.delete(entry.origin)
    else this.bansByOrigin.set(entry.origin, n)
  }

  /** Replaces a key's rivals in memory (counted as bans of their origins); the caller writes them. */
  private setRivals (key: string, next: readonly StoredEntry[]): void {
    for (const r of this.rivals.get(key) ?? []) this.count(key, r, -1)
    for (const r of next) this.count(key, r, 1)
    if (next.length === 0) this.rivals.delete(key)
    else this.rivals.set(key, [...next])
  }

  private writeRivals (key: string, next: readonly StoredEntry[]): Promise<unknown> {
    this.setRivals(key, next)
    return next.length === 0 ? this.db.remove(RIVALS + key) : this.db.put(RIVALS + key, next.map(toRecord))
  }

  /** Standing bans behind a key's held entry (`fst list --all` and tests). */
  rivalsOf (key: string): readonly LedgerEntry[] {
    return this.rivals.get(key) ?? []
  }

  /** The stored version of a key, with its proof (catch-up serves this, never the in-memory copy). */
  stored (key: string): StoredEntry | undefined {
    const written = this.writing.get(key)
    if (written !== undefined) return written
    const record = this.db.get(key) as LedgerRecord | undefined
    return record === undefined ? undefined : fromRecord(record)
  }

  /** Puts a version; until LMDB committed it, `stored` answers from here (a pull right after a ban finds it). */
  private put (key: string, entry: StoredEntry): Promise<unknown> {
    this.writing.set(key, entry)
    return this.db.put(key, toRecord(entry)).finally(() => { if (this.writing.get(key) === entry) this.writing.delete(key) })
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
    this.count(key, this.entries.get(key), -1)
    this.count(key, compact, 1)
    this.entries.set(key, compact)
    this.digest.set(key, compact)
    this.changeCount++
    this.track(key, entry)
    if (actionFamily(entry.action).removes) this.evictRemovals(entry.origin)
  }

  /** Drops an origin's oldest removals past its bound (never a ban: only removals are in the bound). */
  private evictRemovals (origin: string): void {
    while (this.removals.count(origin) > this.rules.maxRemovalsPerOrigin) {
      const oldest = this.removals.oldest(origin)
      if (oldest === undefined) return
      this.forget(oldest.key)
      this.rules.onEvicted?.(origin)
    }
  }

  /** Removes a key from memory, digest and store (pruned or evicted). */
  private forget (key: string): void {
    this.count(key, this.entries.get(key), -1)
    this.entries.delete(key)
    this.unproven.delete(key)
    this.expiring.delete(key)
    this.digest.delete(key)
    this.changeCount++
    void this.db.remove(key)
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

  /** Changes to memory since open: catch-up watches their rate (catchup/settle.ts). */
  get changes (): number {
    return this.changeCount
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
    const incoming: LedgerEntry = { ...event, origin }
    const decided = this.decide(incoming, now)
    if (decided === null || 'refused' in decided) return null
    const rivalsWritten = decided.rivals === undefined ? undefined : this.writeRivals(decided.key, decided.rivals)
    if (decided.change === null) return null
    const { entry, source } = decided.change
    // an own ban that is already past its time is stored as its tombstone, which keeps the ban's proof; a
    // rival that takes over keeps its own
    const sourceProof = source === incoming ? proof : (source as StoredEntry).proof
    const kept = entry === source || sourceProof === undefined ? sourceProof : Promise.resolve(sourceProof).then(p => tombstoneProof(source, p))
    const written = this.store(decided.key, entry, kept)
    return { ...decided.change, written: rivalsWritten === undefined ? written : Promise.all([written, rivalsWritten]) }
  }

  /**
   * `apply` for many entries (a received batch, a catch-up page): the same decisions, one store transaction for all changes,
   * so every returned change shares one `written` promise.
   */
  applyMany (entries: readonly SignedEntry[], now = Date.now(), onRefused?: (reason: LedgerRefusal, entry: SignedEntry) => void): Change[] {
    const changes: Change[] = []
    const writes: Array<[string, StoredEntry | StoredEntry[] | null]> = []
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
      if (decided.rivals !== undefined) {
        this.setRivals(decided.key, decided.rivals)
        writes.push([RIVALS + decided.key, decided.rivals.length === 0 ? null : decided.rivals])
      }
      if (decided.change === null) continue
      const { entry, source } = decided.change
      const sourceProof = (source as StoredEntry).proof!
      const proof = entry === source ? sourceProof : tombstoneProof(source, sourceProof)
      const { proof: _drop, ...plain } = entry as StoredEntry
      this.remember(decided.key, plain)
      this.unproven.delete(decided.key)
      writes.push([decided.key, { ...plain, proof }])
      changes.push({ entry: decided.change.entry, wasActive: decided.change.wasActive, isActive: decided.change.isActive, written })
    }
    // one atomic batch: the puts are queued as instructions the write thread runs on its own; the
    // `db.transaction(callback)` used before made the write thread wait for this thread to run the callback
    if (writes.length === 0) resolveWritten(undefined)
    else {
      for (const [k, e] of writes) if (!k.startsWith(RIVALS)) this.writing.set(k, e as StoredEntry)
      resolveWritten(this.db.batch(() => {
        for (const [k, e] of writes) void (e === null ? this.db.remove(k) : this.db.put(k, Array.isArray(e) ? e.map(toRecord) : toRecord(e)))
      }).then(() => this.db.flushed).finally(() => {
        for (const [k, e] of writes) if (this.writing.get(k) === e) this.writing.delete(k)
      }))
    }
    return changes
  }

  /**
   * What an incoming entry does to its key: a new held entry (`change`; `source` is the report it comes from,
   * the incoming one or a rival taking over), new rivals, a refusal, or nothing (null).
   */
  private decide (incoming: LedgerEntry, now: number): Decision {
    const key = ledgerKey(incoming)
    const previous = this.entries.get(key)
    const rivals = this.rivals.get(key)
    // the common case, a first report or an origin updating its own: the later event wins
    if (previous === undefined || (previous.origin === incoming.origin && rivals === undefined)) {
      if (previous !== undefined && !newer(incoming, previous)) return null
      return this.bounded(incoming, previous, now) ?? this.changeTo(key, incoming, previous, now)
    }
    // an origin's report older than one it already made changes nothing
    if (previous.origin === incoming.origin ? !newer(incoming, previous) : rivals?.some(r => r.origin === incoming.origin && !newer(incoming, r))) return null
    // reports of several origins: unban authority decides (ledger/standing.ts), on what each origin reported
    // (a tombstone as the ban it comes from: an expiry is not an unban, in quorum mode too)
    const current = asReported(this.stored(key)) ?? previous
    const reported = asReported(incoming)!
    const standing = resolve([current, ...(rivals ?? []), reported], now, this.rules.mayEnd)
    const rivalsChanged = !sameReports(standing.rivals, rivals ?? [])
    if (standing.rivals.includes(reported) || standing.held === reported) {
      const refused = this.bounded(incoming, previous, now)
      if (refused !== undefined) return refused
    }
    if (standing.held === current) {
      if (rivalsChanged) return { key, change: null, rivals: standing.rivals }
      // a later report than the held one that changes nothing: it would have ended a ban it may not end
      return newer(incoming, previous) ? { refused: 'unban_not_authorized' } : null
    }
    const decided = this.changeTo(key, standing.held, previous, now)
    return rivalsChanged ? { ...decided, rivals: standing.rivals } : decided
  }

  /**
   * The bounds on what another origin makes this node hold: its bans (`maxActivePerOrigin`), its removals
   * (`maxRemovalsPerOrigin`: one older than all it keeps would be dropped at once), and new keys past
   * `maxEntries`. A removal that lifts a ban is never refused: it frees the ban's slot.
   */
  private bounded (incoming: LedgerEntry, previous: LedgerEntry | undefined, now: number): { refused: LedgerRefusal } | undefined {
    const { rules } = this
    if (incoming.origin === rules.self) return undefined
    if (previous === undefined && this.entries.size >= rules.maxEntries) return { refused: 'ledger_full' }
    if (actionFamily(incoming.action).removes || expiresAt(incoming) <= now) {
      if (previous !== undefined && isActive(previous, now)) return undefined
      if (this.removals.count(incoming.origin) < rules.maxRemovalsPerOrigin) return undefined
      const oldest = this.removals.oldest(incoming.origin)
      return oldest !== undefined && before([oldest.time, oldest.key], [expiresAtOrTime(incoming), ledgerKey(incoming)]) ? undefined : { refused: 'removal_limit' }
    }
    const counted = previous !== undefined && !actionFamily(previous.action).removes && previous.origin === incoming.origin
    if (!counted && this.bansOf(incoming.origin) >= rules.maxActivePerOrigin) return { refused: 'origin_limit' }
    return undefined
  }

  private changeTo (key: string, source: LedgerEntry, previous: LedgerEntry | undefined, now: number): { key: string, change: DecidedChange } {
    const entry = expiresAt(source) <= now ? expiryTombstone(source) : source
    // a ban past its time whose expiry has not been swept yet still counts as active: its unban has not run,
    // and an unban arriving now (the origin's) must run it, or it would run nowhere
    const wasActive = previous !== undefined && (isActive(previous, now) || this.expiring.has(key))
    return { key, change: { entry, source, wasActive, isActive: isActive(entry, now) } }
  }

  /**
   * Bans whose time is up: each is replaced by its expiry tombstone and returned once, for its unban to run.
   * On open this includes bans that expired while the node was down.
   */
  expire (now = Date.now()): Array<{ ban: LedgerEntry, tombstone: LedgerEntry }> {
    const out: Array<{ ban: LedgerEntry, tombstone: LedgerEntry }> = []
    for (const [key, list] of this.rivals) {
      const left = list.filter(r => expiresAt(r) > now)
      if (left.length !== list.length) void this.writeRivals(key, left)
    }
    // every key taken is stored again below, which tracks its next end (if any)
    for (const key of this.expiring.takeDue(now)) {
      const ban = this.entries.get(key)
      if (ban === undefined) continue
      // a standing ban of another origin takes over: the key stays banned, no unban runs
      const rivals = this.rivals.get(key)
      if (rivals !== undefined) {
        const standing = resolve([this.stored(key) ?? ban, ...rivals], now, this.rules.mayEnd)
        void this.writeRivals(key, standing.rivals.filter(r => r !== standing.held))
        const next = standing.held as StoredEntry
        if (isActive(next, now)) {
          const { proof, ...plain } = next
          void this.store(key, plain, proof)
          continue
        }
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
      this.forget(key)
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

