import { MAX_DURATION_S, overlaps, parseAddress, type AddressRange } from '@fst/protocol'
import { expiresAt, isActive, type LedgerEntry } from '@fst/protocol'
import { formatDuration } from './duration.js'

/** A decision as CrowdSec's LAPI answers it to bouncers (models.Decision). */
export interface Decision {
  id: number
  origin: string
  scenario: string
  scope: 'Ip' | 'Range'
  type: 'ban'
  value: string
  duration: string
}

/** What FST serves for one address or range: the ban that lasts longest wins. */
export interface ActiveBan {
  value: string
  scope: 'Ip' | 'Range'
  /** FST name (jail) of the winning ban: the decision's scenario. */
  scenario: string
  /** Expiry in ms since the epoch; Infinity for a permanent ban. */
  expires: number
}

/** The origin every FST decision carries (bouncers may filter on it with `origins=fst`). */
export const FST_ORIGIN = 'fst'
/** A permanent FST ban goes out as the longest FST allows: CrowdSec has no "until removed". */
const PERMANENT_MS = MAX_DURATION_S * 1000

export interface ViewSource {
  entries: () => Iterable<LedgerEntry>
  /** Actions served as bans. */
  actions: readonly string[]
  /** Whether an entry came from this node's own CrowdSec (left out for keys that feed a CrowdSec). */
  fromLocalCrowdsec: (e: LedgerEntry) => boolean
}

/**
 * Active bans by value, one per address or range. Several FST entries for one address (two jails) become one
 * decision: a bouncer such as the firewall bouncer keys its set by value, so a second decision's deletion would
 * otherwise unban an address that another ban still covers.
 */
export function activeBans (source: ViewSource, excludeLocalCrowdsec: boolean, now = Date.now()): Map<string, ActiveBan> {
  const out = new Map<string, ActiveBan>()
  const actions = new Set(source.actions)
  for (const e of source.entries()) {
    if (!actions.has(e.action) || !isActive(e, now)) continue
    if (excludeLocalCrowdsec && source.fromLocalCrowdsec(e)) continue
    const expires = expiresAt(e)
    const prev = out.get(e.ip)
    if (prev !== undefined && prev.expires >= expires) continue
    out.set(e.ip, { value: e.ip, scope: e.ip.includes('/') ? 'Range' : 'Ip', scenario: e.name, expires })
  }
  return out
}

/**
 * A decision ID from its value and expiry: stable across pulls and restarts without a table, new when the ban
 * changes (CrowdSec's IDs are database rows; bouncers only need them unique per decision). Two 32-bit FNV-1a
 * hashes make 52 bits: cheap enough for 100,000 decisions per startup pull, unlike a SHA-256 each.
 */
export function decisionId (value: string, expires: number): number {
  const text = `${value}|${expires}`
  let a = 0x811c9dc5
  let b = 0x050c5d1f
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x01000193)
  }
  return ((a >>> 0) % 0x100000) * 0x100000000 + (b >>> 0) + 1
}

/** The decision for an active ban, its duration counted from `now`. */
export function toDecision (ban: ActiveBan, now = Date.now()): Decision {
  const remaining = ban.expires === Infinity ? PERMANENT_MS : Math.max(0, ban.expires - now)
  return {
    id: decisionId(ban.value, ban.expires),
    origin: FST_ORIGIN,
    scenario: ban.scenario,
    scope: ban.scope,
    type: 'ban',
    value: ban.value,
    duration: formatDuration(remaining)
  }
}

/** Filters of a stream or live query, from CrowdSec's query parameters. */
export interface DecisionFilter {
  /** Lowercase scopes (`ip`, `range`); null: both. */
  scopes: Set<string> | null
  scenariosContaining: string[]
  scenariosNotContaining: string[]
  /** Lowercase origins asked for; null: any. */
  origins: Set<string> | null
}

export function matchesFilter (ban: ActiveBan, f: DecisionFilter): boolean {
  if (f.scopes !== null && !f.scopes.has(ban.scope.toLowerCase())) return false
  if (f.origins !== null && !f.origins.has(FST_ORIGIN)) return false
  if (f.scenariosContaining.length > 0 && !f.scenariosContaining.some(s => ban.scenario.includes(s))) return false
  if (f.scenariosNotContaining.some(s => ban.scenario.includes(s))) return false
  return true
}

/** Bans covering an address or range (`GET /v1/decisions?ip=`), or contained in it when `contains` is false. */
export function bansCovering (bans: Iterable<ActiveBan>, target: AddressRange, contains: boolean): ActiveBan[] {
  const out: ActiveBan[] = []
  for (const ban of bans) {
    const range = parseAddress(ban.value)
    if (!range.valid || !overlaps(range.value, target)) continue
    if (contains ? range.value.prefix <= target.prefix : range.value.prefix >= target.prefix) out.push(ban)
  }
  return out
}
