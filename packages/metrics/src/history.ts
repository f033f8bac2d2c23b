import { SMALL_STORE_MAP_BYTES, storeOptions } from '@fst/node'
import { open, type RootDatabase } from 'lmdb'
import type { FeedItem } from './aggregator.js'
import type { Refusal } from './insights.js'

export interface HistoryInit {
  /** Events kept; beyond this the oldest go. @default 200000 */
  maxEvents?: number
  /** Refused messages kept (a hostile peer's flood fills this, not the disk). @default 10000 */
  maxRefusals?: number
  /** Events older than this go. @default 30 days */
  maxAgeMs?: number
  now?: () => number
}

type Key = (string | number)[]
type Row = FeedItem | Refusal

const MAX = Number.MAX_SAFE_INTEGER
/** Pruning runs once this many events are over the cap, so it is one batch, not one delete per insert. */
const PRUNE_SLACK = 1000
/** Events returned for one address. */
export const ADDRESS_HISTORY = 100

/**
 * The metrics peer's own store (LMDB, like the node's ledger): every accepted event and every refused
 * message, so that the dashboard's history survives a restart (it is replayed into the aggregator on start),
 * plus an index by address for the search. Bounded by count and age.
 * Keys: `['e', received, seq]` event, `['a', ip, received, seq]` index, `['x', received, seq]` refusal.
 */
export class HistoryStore {
  private seq = 0
  private pruning: Promise<number> | null = null
  private events: number
  private refusals: number
  private readonly maxEvents: number
  private readonly maxRefusals: number
  private readonly maxAgeMs: number
  private readonly now: () => number

  private constructor (private readonly db: RootDatabase<Row | null, Key>, init: HistoryInit) {
    this.maxEvents = init.maxEvents ?? 200_000
    this.maxRefusals = init.maxRefusals ?? 10_000
    this.maxAgeMs = init.maxAgeMs ?? 30 * 24 * 3600_000
    this.now = init.now ?? Date.now
    this.events = db.getCount({ start: ['e', 0], end: ['e', MAX] })
    this.refusals = db.getCount({ start: ['x', 0], end: ['x', MAX] })
    const last = [...db.getKeys({ start: ['e', MAX], end: ['e', 0], reverse: true, limit: 1 })][0]
    this.seq = typeof last?.[2] === 'number' ? last[2] + 1 : 0
  }

  static async open (path: string, init: HistoryInit = {}): Promise<HistoryStore> {
    const store = new HistoryStore(open<Row | null, Key>({ path, ...storeOptions(SMALL_STORE_MAP_BYTES) }), init)
    await store.prune()
    return store
  }

  addEvent (item: FeedItem): void {
    const seq = this.seq++
    void this.db.put(['e', item.received, seq], item)
    void this.db.put(['a', item.ip, item.received, seq], null)
    if (++this.events > this.maxEvents + PRUNE_SLACK) void this.prune()
  }

  addRefusal (r: Refusal): void {
    void this.db.put(['x', r.received, this.seq++], r)
    if (++this.refusals > this.maxRefusals + PRUNE_SLACK) void this.prune()
  }

  /** Stored events, oldest first (for the aggregator on start). */
  *storedEvents (): Generator<FeedItem> {
    for (const { value } of this.db.getRange({ start: ['e', 0], end: ['e', MAX] })) if (value !== null) yield value as FeedItem
  }

  *storedRefusals (): Generator<Refusal> {
    for (const { value } of this.db.getRange({ start: ['x', 0], end: ['x', MAX] })) if (value !== null) yield value as Refusal
  }

  /** The latest events of one address (canonical text), newest first. */
  address (ip: string, limit = ADDRESS_HISTORY): FeedItem[] {
    const out: FeedItem[] = []
    for (const key of this.db.getKeys({ start: ['a', ip, MAX], end: ['a', ip, 0], reverse: true, limit })) {
      const item = this.db.get(['e', key[2]!, key[3]!])
      if (item !== undefined && item !== null) out.push(item as FeedItem)
    }
    return out
  }

  /** Drops events over the count cap or past the age limit (oldest first), with their index keys. */
  async prune (): Promise<number> {
    if (this.pruning !== null) return this.pruning
    this.pruning = this.pruneNow().finally(() => { this.pruning = null })
    return this.pruning
  }

  private async pruneNow (): Promise<number> {
    // puts are committed asynchronously; reads see them once committed
    await this.db.committed
    const cutoff = this.now() - this.maxAgeMs
    const over = Math.max(0, this.events - this.maxEvents)
    const drop: Array<{ key: Key, ip: string }> = []
    for (const { key, value } of this.db.getRange({ start: ['e', 0], end: ['e', MAX] })) {
      if (drop.length >= over && (key[1] as number) >= cutoff) break
      drop.push({ key, ip: (value as FeedItem | null)?.ip ?? '' })
    }
    const refusalsOver = Math.max(0, this.refusals - this.maxRefusals)
    const refusals: Key[] = []
    for (const key of this.db.getKeys({ start: ['x', 0], end: ['x', MAX] })) {
      if (refusals.length >= refusalsOver && (key[1] as number) >= cutoff) break
      refusals.push(key)
    }
    if (drop.length === 0 && refusals.length === 0) return 0
    await this.db.batch(() => {
      for (const { key, ip } of drop) {
        void this.db.remove(key)
        void this.db.remove(['a', ip, key[1]!, key[2]!])
      }
      for (const key of refusals) void this.db.remove(key)
    })
    this.events -= drop.length
    this.refusals -= refusals.length
    return drop.length
  }

  async close (): Promise<void> {
    await this.pruning
    await this.db.flushed
    await this.db.close()
  }
}
