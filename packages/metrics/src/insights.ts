import { actionFamily } from '@fst/protocol'
import type { GeoInfo } from './geo.js'
import { TopCounter } from './labels.js'

/** What one origin (a node, by peer ID) contributed. */
export interface OriginStats {
  origin: string
  bans: number
  unbans: number
  /** Its latest accepted event, received here (ms). */
  last: number
  /** The name (jail) it reported most. */
  topName: string | null
}

/** Propagation delay of accepted events (issue at the origin → receipt here), over the last samples. */
export interface DelayStats {
  samples: number
  p50: number | null
  p95: number | null
  max: number | null
}

export interface Refusal {
  received: number
  reason: string
  result: 'reject' | 'ignore'
  /** The refused gossipsub message as `signer/seqno` (a copy of it is not counted again); none if unsigned. */
  message?: string
}

export interface RefusedStats {
  total: number
  byReason: Array<{ key: string, count: number }>
  recent: Refusal[]
}

const DELAY_SAMPLES = 1024
const RECENT_REFUSALS = 10
const MAX_ORIGINS = 1000

/**
 * The dashboard's second row of figures, bounded like the rest: per-origin contribution, countries and ASes
 * of banned addresses, propagation delay over the last 1,024 events, refused messages by reason.
 */
export class Insights {
  private readonly origins = new Map<string, { bans: number, unbans: number, last: number, names: TopCounter }>()
  private readonly countries: TopCounter
  private readonly asns: TopCounter
  private readonly delays = new Float64Array(DELAY_SAMPLES)
  private delayCount = 0
  private readonly refusedReasons = new TopCounter(64)
  private refusedTotal = 0
  private readonly recentRefusals: Refusal[] = []

  constructor (topCap: number, private geo: ((ip: string) => GeoInfo) | null) {
    this.countries = new TopCounter(topCap)
    this.asns = new TopCounter(topCap)
  }

  /** Sets the geo lookup once its databases are open. */
  useGeo (geo: (ip: string) => GeoInfo): void {
    this.geo = geo
  }

  /**
   * One accepted event; returns the geo data of a ban's address (null for unbans or without a database).
   * `known`: what the history store kept, so a replay after a restart does no lookups.
   */
  event (e: { action: string, name: string, ip: string, time: number, origin: string, received: number }, known?: GeoInfo): GeoInfo | null {
    const removes = actionFamily(e.action).removes
    let o = this.origins.get(e.origin)
    if (o === undefined) {
      // origins are signers the validator accepted, so members of sync-peers.txt: few; the cap guards anyway
      if (this.origins.size >= MAX_ORIGINS) this.origins.delete(this.origins.keys().next().value!)
      o = { bans: 0, unbans: 0, last: 0, names: new TopCounter(50) }
      this.origins.set(e.origin, o)
    }
    if (removes) o.unbans++
    else o.bans++
    o.last = Math.max(o.last, e.received)
    o.names.add(e.name)
    this.delays[this.delayCount % DELAY_SAMPLES] = Math.max(0, e.received - e.time)
    this.delayCount++
    if (removes || (this.geo === null && known === undefined)) return null
    const geo = known ?? this.geo!(e.ip)
    if (geo.country !== null) this.countries.add(geo.country)
    if (geo.asn !== null) this.asns.add(`AS${geo.asn}${geo.org === null ? '' : ` ${geo.org}`}`)
    return geo
  }

  refused (r: Refusal): void {
    this.refusedTotal++
    this.refusedReasons.add(r.reason)
    this.recentRefusals.unshift(r)
    if (this.recentRefusals.length > RECENT_REFUSALS) this.recentRefusals.length = RECENT_REFUSALS
  }

  originStats (k: number): OriginStats[] {
    return [...this.origins]
      .map(([origin, o]) => ({ origin, bans: o.bans, unbans: o.unbans, last: o.last, topName: o.names.top(1)[0]?.key ?? null }))
      .sort((a, b) => b.bans + b.unbans - (a.bans + a.unbans) || (a.origin < b.origin ? -1 : 1))
      .slice(0, k)
  }

  topCountries (k: number) { return this.countries.top(k) }
  topAsns (k: number) { return this.asns.top(k) }

  delay (): DelayStats {
    const n = Math.min(this.delayCount, DELAY_SAMPLES)
    if (n === 0) return { samples: 0, p50: null, p95: null, max: null }
    const sorted = Array.from(this.delays.subarray(0, n)).sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!
    return { samples: n, p50: at(0.5), p95: at(0.95), max: sorted[n - 1]! }
  }

  refusedStats (): RefusedStats {
    return { total: this.refusedTotal, byReason: this.refusedReasons.top(10), recent: [...this.recentRefusals] }
  }
}
