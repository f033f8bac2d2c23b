import type { LedgerEntry } from '@fst/protocol'

/**
 * Who may lift a ban before it expires (config `unbanAuthority`). Expiry is not a lift: every node turns an
 * expired ban into its tombstone on its own clock, whatever this says.
 * - `any`: every listed peer (protocol v1's behaviour).
 * - `origin`: only the peer that issued the ban.
 * - `admins`: the issuing peer, or one of the listed `admins` peer IDs.
 * - `quorum`: every removal, the origin's too, waits until `peers` distinct peers made it within `windowS`
 *   (held like a quorum ban: trust/quorum.ts); once it passes, it may lift any ban.
 */
export interface UnbanAuthority {
  mode: 'any' | 'origin' | 'admins' | 'quorum'
  /** Peer IDs that may lift any ban in `admins` mode. @default [] */
  admins: string[]
  /** Distinct peers an unban needs in `quorum` mode. @default 2 */
  peers: number
  /** Window of those reports in `quorum` mode, seconds. @default 600 */
  windowS: number
}

export const defaultUnbanAuthority: UnbanAuthority = { mode: 'any', admins: [], peers: 2, windowS: 600 }

/** Whether `remover`'s removal may lift `ban` (the ledger asks before a removal replaces a ban of another origin). */
export function liftPolicy (authority: UnbanAuthority): (remover: string, ban: LedgerEntry) => boolean {
  const admins = new Set(authority.admins)
  switch (authority.mode) {
    case 'origin': return (remover, ban) => remover === ban.origin
    case 'admins': return (remover, ban) => remover === ban.origin || admins.has(remover)
    default: return () => true
  }
}
