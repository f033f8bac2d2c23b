import { overlaps, parseAddress } from '@fst/protocol'
import type { LedgerEntry } from '@fst/protocol'
import type { Ledger } from './store.js'

/** A `list` request from the control socket. */
export interface ListQuery {
  action?: string
  name?: string
  /** Canonical address or CIDR. */
  ip?: string
  /** Include tombstones (removals and expired bans). */
  all?: boolean
  /** Match every entry whose range overlaps `ip` (a ban of 203.0.113.0/24 for 203.0.113.7), not only equal ones. */
  overlapping?: boolean
}

/** Entries for `fst list` / `fst show`, sorted by address then name for stable output. */
export function entriesCovering (ledger: Ledger, q: ListQuery): LedgerEntry[] {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
  const base = { action: str(q.action), name: str(q.name), all: q.all === true }
  let out: LedgerEntry[]
  if (q.overlapping === true && typeof q.ip === 'string') {
    const target = parseAddress(q.ip)
    if (!target.valid) return []
    out = ledger.list(base).filter(e => {
      const range = parseAddress(e.ip)
      return range.valid && overlaps(range.value, target.value)
    })
  } else {
    out = ledger.list({ ...base, ip: str(q.ip) })
  }
  return out.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}
