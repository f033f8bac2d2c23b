import { actionFamily, expiresAt, type FstEvent, ledgerKey } from '@fst/protocol'
import { ActiveSet, type Expiring } from './active-set.js'
import type { GeoInfo } from './geo.js'
import { type DelayStats, Insights, type OriginStats, type Refusal, type RefusedStats } from './insights.js'
import { TopCounter } from './labels.js'
import { networkOf } from './network.js'
import { eventId, SeenIds } from './seen-ids.js'

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
  /** Country code and AS number of a ban's address (offline databases); null when unknown or an unban. */
  country?: string | null
  asn?: number | null
  /** The AS's organisation. */
  org?: string | null
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
  /** Per origin (peer ID): what it reported. */
  origins: OriginStats[]
  topCountries: Ranked[]
  topAsns: Ranked[]
  delay: DelayStats
  refused: RefusedStats
  /** The active bans that expire first. */
  expiring: Expiring[]
}

export interface AggregatorInit {
  /** Minutes of per-minute history. @default 60 */
  minutes?: number
  /** Events kept for the live feed. @default 200 */
  feedSize?: number
  /** Distinct keys kept per top list before the smallest are dropped. @default 5000 */
  topCap?: number
  /** Keys (bans and unban tombstones) tracked, and event identities remembered to drop copies; beyond this the oldest are forgotten. @default 200000 */
  activeCap?: number
  /** An inactive key is forgotten this long after its last event (events older than the validator's freshness window never arrive). @default 86400000 */
  forgetAfterMs?: number
  /** Refused messages remembered (by signer and sequence number) to drop copies. @default 10000 */
  refusalCap?: number
  /** Entries returned per top list. @default 10 */
  topK?: number
  /** Country and AS of an address (GeoLookup); none: the geo panels stay empty. */
  geo?: (ip: string) => GeoInfo
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
  private readonly opts: Required<Omit<AggregatorInit, 'now' | 'geo'>>
  private readonly insights: Insights
  private readonly seenEvents: SeenIds
  private readonly seenRefusals: SeenIds
  private expiringCache: { at: number, list: Expiring[] } | null = null

  constructor (init: AggregatorInit = {}) {
    this.opts = { minutes: 60, feedSize: 200, topCap: 5000, activeCap: 200_000, refusalCap: 10_000, topK: 10, forgetAfterMs: 24 * 3600_000, ...init }
    this.now = init.now ?? Date.now
    this.names = new TopCounter(this.opts.topCap)
    this.actions = new TopCounter(this.opts.topCap)
    this.addresses = new TopCounter(this.opts.topCap)
    this.networks = new TopCounter(this.opts.topCap)
    this.active = new ActiveSet(this.opts.activeCap, this.opts.forgetAfterMs, this.now)
    this.insights = new Insights(this.opts.topCap, init.geo ?? null)
    this.seenEvents = new SeenIds(this.opts.activeCap, this.opts.forgetAfterMs, this.now)
    this.seenRefusals = new SeenIds(this.opts.refusalCap, this.opts.forgetAfterMs, this.now)
  }

  /**
   * Records one accepted event signed by `origin`, received now (or at `received` when the history store
   * replays it after a restart); returns the feed item, which the store keeps, or null for a copy of an
   * event already recorded (gossip re-delivers recent messages to a restarted service: SeenIds).
   */
  record (event: FstEvent, origin: string, received = this.now(), known?: GeoInfo): FeedItem | null {
    if (!this.seenEvents.add(eventId(event, origin), event.time)) return null
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
    const geo = this.insights.event({ ...event, origin, received }, known)
    const item: FeedItem = { received, origin, ...event, country: geo?.country ?? null, asn: geo?.asn ?? null, org: geo?.org ?? null }
    this.feed.unshift(item)
    if (this.feed.length > this.opts.feedSize) this.feed.length = this.opts.feedSize
    return item
  }

  /** Country and AS lookups for bans from now on (the databases open after the aggregator exists). */
  useGeo (geo: (ip: string) => GeoInfo): void {
    this.insights.useGeo(geo)
  }

  /** Replays one event the history store kept (after a restart): same aggregates, no new lookups. */
  replay (item: FeedItem): void {
    const { received, origin, country, asn, org, ...rest } = item
    const event: FstEvent = { action: rest.action, name: rest.name, protocol: rest.protocol, port: rest.port, ip: rest.ip, time: rest.time, duration: rest.duration }
    const removes = actionFamily(event.action).removes
    this.record(event, origin, received, removes ? undefined : { country: country ?? null, asn: asn ?? null, org: org ?? null })
  }

  /** A message the validator refused (reason from its bounded set); false for a copy of one counted already. */
  refused (r: Refusal): boolean {
    if (r.message !== undefined && !this.seenRefusals.add(r.message, r.received)) return false
    this.insights.refused(r)
    return true
  }

  /** The active bans expiring first; computed at most once a second (a pass over the active set). */
  expiring (k = 10): Expiring[] {
    const now = this.now()
    if (this.expiringCache === null || now - this.expiringCache.at >= 1000) this.expiringCache = { at: now, list: this.active.soonest(k, now) }
    return this.expiringCache.list
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
      feed: this.feed.slice(0, feedItems),
      origins: this.insights.originStats(20),
      topCountries: this.insights.topCountries(this.opts.topK),
      topAsns: this.insights.topAsns(this.opts.topK),
      delay: this.insights.delay(),
      refused: this.insights.refusedStats(),
      expiring: this.expiring()
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
