import { actionFamily, expiresAt, type FstEvent, ledgerKey } from '@fst/protocol'
import { ActiveSet } from './active-set.js'
import { TopCounter } from './labels.js'
import { networkOf } from './network.js'

/** One event as the dashboard's feed shows it. */
export interface FeedItem {
  /** When this service received it, ms since the epoch. */
  received: number
  /** Issue time at the origin. */
  time: number
  action: string
  name: string
  ip: string
  protocol: string
  port: string
  duration: number
  /** Peer ID of the node that signed it. */
  origin: string
}

/** Bans and unbans received in one minute. */
export interface MinuteBucket {
  /** Start of the minute, ms since the epoch. */
  minute: number
  bans: number
  unbans: number
}

export interface Ranked { key: string, count: number }

/** Everything the dashboard draws, as one JSON-able object. */
export interface Summary {
  now: number
  activeBans: number
  totals: { events: number, bans: number, unbans: number }
  minutes: MinuteBucket[]
  topNames: Ranked[]
  topActions: Ranked[]
  topAddresses: Ranked[]
  topNetworks: Ranked[]
  feed: FeedItem[]
}

export interface AggregatorInit {
  /** Minutes of per-minute history. @default 60 */
  minutes?: number
  /** Events kept for the live feed. @default 200 */
  feedSize?: number
  /** Distinct keys kept per top list before the smallest are dropped. @default 5000 */
  topCap?: number
  /** Keys (bans and unban tombstones) tracked; beyond this the oldest are forgotten. @default 200000 */
  activeCap?: number
  /** An inactive key is forgotten this long after its last event (events older than the validator's freshness window never arrive). @default 86400000 */
  forgetAfterMs?: number
  /** Entries returned per top list. @default 10 */
  topK?: number
  now?: () => number
}

const MINUTE = 60_000

/**
 * What the mesh did lately, in bounded memory: per-minute ban/unban counts for the last hour, the latest
 * events, rough top lists, and the set of bans active now (last writer wins per key, expiry honoured).
 * Fed only with events that passed the same validator as a node's.
 */
export class Aggregator {
  private readonly buckets: MinuteBucket[] = []
  private readonly feed: FeedItem[] = []
  private readonly names: TopCounter
  private readonly actions: TopCounter
  private readonly addresses: TopCounter
  private readonly networks: TopCounter
  private readonly active: ActiveSet
  private readonly totals = { events: 0, bans: 0, unbans: 0 }
  private readonly now: () => number
  private readonly opts: Required<Omit<AggregatorInit, 'now'>>

  constructor (init: AggregatorInit = {}) {
    this.opts = { minutes: 60, feedSize: 200, topCap: 5000, activeCap: 200_000, topK: 10, forgetAfterMs: 24 * 3600_000, ...init }
    this.now = init.now ?? Date.now
    this.names = new TopCounter(this.opts.topCap)
    this.actions = new TopCounter(this.opts.topCap)
    this.addresses = new TopCounter(this.opts.topCap)
    this.networks = new TopCounter(this.opts.topCap)
    this.active = new ActiveSet(this.opts.activeCap, this.opts.forgetAfterMs, this.now)
  }

  /** Records one accepted event signed by `origin`. */
  record (event: FstEvent, origin: string): void {
    const received = this.now()
    const { removes } = actionFamily(event.action)
    this.totals.events++
    this.actions.add(event.action)
    this.names.add(event.name)
    const bucket = this.bucket(received)
    if (removes) {
      this.totals.unbans++
      bucket.unbans++
    } else {
      this.totals.bans++
      bucket.bans++
      this.addresses.add(event.ip)
      const net = networkOf(event.ip)
      if (net !== null) this.networks.add(net)
    }
    // a removal's 0 (not its Infinity) keeps the key so that a late older ban loses
    this.active.apply(ledgerKey(event), event.time, removes ? 0 : expiresAt({ ...event, origin }))
    this.feed.unshift({ received, origin, ...event })
    if (this.feed.length > this.opts.feedSize) this.feed.length = this.opts.feedSize
  }

  /** Bans in force now. */
  activeBans (): number {
    return this.active.count()
  }

  summary (feedItems = 50): Summary {
    const now = this.now()
    return {
      now,
      activeBans: this.activeBans(),
      totals: { ...this.totals },
      minutes: this.history(now),
      topNames: this.names.top(this.opts.topK),
      topActions: this.actions.top(this.opts.topK),
      topAddresses: this.addresses.top(this.opts.topK),
      topNetworks: this.networks.top(this.opts.topK),
      feed: this.feed.slice(0, feedItems)
    }
  }

  /** One bucket per minute of the window, oldest first, zeros where nothing happened. */
  history (now = this.now()): MinuteBucket[] {
    const current = Math.floor(now / MINUTE) * MINUTE
    const byMinute = new Map(this.buckets.map(b => [b.minute, b]))
    const out: MinuteBucket[] = []
    for (let i = this.opts.minutes - 1; i >= 0; i--) {
      const minute = current - i * MINUTE
      const b = byMinute.get(minute)
      out.push({ minute, bans: b?.bans ?? 0, unbans: b?.unbans ?? 0 })
    }
    return out
  }

  private bucket (at: number): MinuteBucket {
    const minute = Math.floor(at / MINUTE) * MINUTE
    const last = this.buckets.at(-1)
    if (last !== undefined && last.minute === minute) return last
    const fresh = { minute, bans: 0, unbans: 0 }
    this.buckets.push(fresh)
    const oldest = minute - (this.opts.minutes - 1) * MINUTE
    while (this.buckets.length > 0 && this.buckets[0]!.minute < oldest) this.buckets.shift()
    return fresh
  }
}
