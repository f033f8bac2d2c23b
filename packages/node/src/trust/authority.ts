import { actionFamily, type LedgerEntry } from '@fst/protocol'

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

export const defaultUnbanAuthority: UnbanAuthority = { mode: 'origin', admins: [], peers: 2, windowS: 600 }

/**
 * Whether `lifter` may end `ban` before its expiry: the ledger asks whenever an entry of another origin would
 * end an active ban, whatever its type (a removal, a newer ban already past its time, a shorter ban).
 */
export function liftPolicy (authority: UnbanAuthority): (lifter: LedgerEntry, ban: LedgerEntry) => boolean {
  const admins = new Set(authority.admins)
  switch (authority.mode) {
    case 'origin': return (lifter, ban) => lifter.origin === ban.origin
    case 'admins': return (lifter, ban) => lifter.origin === ban.origin || admins.has(lifter.origin)
    // a removal reaches the ledger only once its quorum passed; a ban stays its origin's own
    case 'quorum': return (lifter, ban) => lifter.origin === ban.origin || actionFamily(lifter.action).removes
    default: return () => true
  }
}
