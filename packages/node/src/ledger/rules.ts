import type { LedgerEntry } from '@fst/protocol'

/** What the ledger enforces on received entries (config `limits`, `unbanAuthority`). */
export interface LedgerRules {
  /** This node: its own entries are not bounded. */
  self: string
  /** Most keys one other origin may hold as bans (active or awaiting expiry). */
  maxActivePerOrigin: number
  /** Most removals (unbans, expiry tombstones) one other origin keeps in the ledger: its newest ones. */
  maxRemovalsPerOrigin: number
  /** Most keys the ledger holds; past it new keys of other origins are refused. */
  maxEntries: number
  /** An origin's oldest removal was dropped to keep it within `maxRemovalsPerOrigin`. */
  onEvicted?: (origin: string) => void
  /**
   * Whether `lifter` (a removal, or a ban of another origin that ends sooner) may end `ban` before its expiry
   * (unban authority; trust/authority.ts).
   */
  mayEnd: (lifter: LedgerEntry, ban: LedgerEntry) => boolean
}

/** Why the ledger refused an entry it was given. */
/** `unban_not_authorized`: it would end another origin's ban early, whatever its type. */
export type LedgerRefusal = 'origin_limit' | 'removal_limit' | 'ledger_full' | 'unban_not_authorized'
