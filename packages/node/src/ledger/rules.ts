import type { LedgerEntry } from '@fst/protocol'

/** What the ledger enforces on received entries (config `limits`, `unbanAuthority`). */
export interface LedgerRules {
  /** This node: its own entries are not bounded. */
  self: string
  /** Most keys one other origin may hold as bans (active or awaiting expiry). */
  maxActivePerOrigin: number
  /** Whether `remover`'s removal may lift `ban` (unban authority; trust/authority.ts). */
  mayLift: (remover: string, ban: LedgerEntry) => boolean
}

/** Why the ledger refused an entry it was given. */
export type LedgerRefusal = 'origin_limit' | 'unban_not_authorized'
