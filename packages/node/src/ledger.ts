import { actionFamily, type FstEvent } from '@fst/protocol'
import { open, type RootDatabase } from 'lmdb'

/** One key's latest event, and who issued it. */
export interface LedgerEntry extends FstEvent {
  /** Peer ID of the node that published the event. */
  origin: string
}

/** What applying an event changed, if anything. */
export interface Change {
  entry: LedgerEntry
  /** The key was active (banned) before. */
  wasActive: boolean
  /** The key is active now. */
  isActive: boolean
  /** Resolves once the change is committed to disk. */
  written: Promise<unknown>
}

/** Key of an entry: `unban` and `ban` share one, so the later of the two wins. */
export function ledgerKey (event: Pick<FstEvent, 'action' | 'name' | 'ip'>): string {
  return `${actionFamily(event.action).family}|${event.name}|${event.ip}`
}

/**
 * The convergence rule: per key, the event with the later issue time wins; equal times are ordered by origin
 * peer ID, then by action so that `unban` beats `ban`, then by the remaining fields so that the order is total.
 * Every node applying the same set of events in any order ends with the same ledger.
 */
export function newer (a: LedgerEntry, b: LedgerEntry): boolean {
  if (a.time !== b.time) return a.time > b.time
  if (a.origin !== b.origin) return a.origin > b.origin
  const removesA = actionFamily(a.action).removes
  if (removesA !== actionFamily(b.action).removes) return removesA
  return tieBreak(a) > tieBreak(b)
}

function tieBreak (e: LedgerEntry): string {
  return `${e.protocol}|${e.port}|${String(e.duration).padStart(10, '0')}`
}

/** Whether an entry bans right now: not removed and not expired. */
export function isActive (entry: LedgerEntry, now = Date.now()): boolean {
  if (actionFamily(entry.action).removes) return false
  return entry.duration === 0 || entry.time + entry.duration * 1000 > now
}

/** Expiry time in ms, or Infinity for a permanent or removed entry. */
export function expiresAt (entry: LedgerEntry): number {
  return entry.duration === 0 || actionFamily(entry.action).removes ? Infinity : entry.time + entry.duration * 1000
}

/**
 * Every node's durable record of the mesh: the latest event per key, in an LMDB store (crash-safe,
 * copy-on-write) mirrored in memory for lookups. `apply` resolves once the write is committed.
 */
export class Ledger {
  private readonly entries = new Map<string, LedgerEntry>()
  /** Keys of active entries that will expire, with their expiry time. */
  private readonly expiring = new Map<string, number>()

  private constructor (private readonly db: RootDatabase<LedgerEntry, string>) {
    const now = Date.now()
    for (const { key, value } of db.getRange()) {
      this.entries.set(key, value)
      this.track(key, value, now)
    }
  }

  private track (key: string, entry: LedgerEntry, now: number): void {
    const end = expiresAt(entry)
    if (end !== Infinity && end > now) this.expiring.set(key, end)
    else this.expiring.delete(key)
  }

  /** Entries that expired since the last call: each is returned once, for its unban to run. */
  takeExpired (now = Date.now()): LedgerEntry[] {
    const out: LedgerEntry[] = []
    for (const [key, end] of this.expiring) {
      if (end > now) continue
      this.expiring.delete(key)
      const entry = this.entries.get(key)
      if (entry !== undefined) out.push(entry)
    }
    return out
  }

  static open (path: string): Ledger {
    return new Ledger(open<LedgerEntry, string>({ path, compression: false }))
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
   * The decision is synchronous, so concurrent callers see each other's changes; `written` tells when it is durable.
   */
  apply (event: FstEvent, origin: string, now = Date.now()): Change | null {
    const entry: LedgerEntry = { ...event, origin }
    const key = ledgerKey(event)
    const previous = this.entries.get(key)
    if (previous !== undefined && !newer(entry, previous)) return null
    this.entries.set(key, entry)
    this.track(key, entry, now)
    const written = this.db.put(key, entry)
    return { entry, wasActive: previous !== undefined && isActive(previous, now), isActive: isActive(entry, now), written }
  }

  /** Entries active now, optionally filtered. */
  active (filter: { action?: string, name?: string, ip?: string } = {}, now = Date.now()): LedgerEntry[] {
    const out: LedgerEntry[] = []
    for (const e of this.entries.values()) {
      if (!isActive(e, now)) continue
      if (filter.action !== undefined && e.action !== filter.action) continue
      if (filter.name !== undefined && e.name !== filter.name) continue
      if (filter.ip !== undefined && e.ip !== filter.ip) continue
      out.push(e)
    }
    return out
  }

  /** Drops removed and expired entries older than `horizonMs`: events that old are refused as stale anyway. */
  async prune (horizonMs: number, now = Date.now()): Promise<number> {
    let dropped = 0
    for (const [key, e] of this.entries) {
      const end = actionFamily(e.action).removes ? e.time : expiresAt(e)
      if (end < now - horizonMs) {
        this.entries.delete(key)
        this.expiring.delete(key)
        void this.db.remove(key)
        dropped++
      }
    }
    await this.db.flushed
    return dropped
  }

  async close (): Promise<void> {
    await this.db.flushed
    await this.db.close()
  }
}
