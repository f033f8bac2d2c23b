import { actionFamily, expiresAt, type LedgerEntry, newer } from '@fst/protocol'

/** Whether `lifter` (a removal, or a ban that ends sooner) may end `ban`, of another origin, before its expiry. */
export type MayEnd = (lifter: LedgerEntry, ban: LedgerEntry) => boolean

/** What a key resolves to: the entry the ledger holds (and serves), and the bans that still stand behind it. */
export interface Standing<E extends LedgerEntry> {
  held: E
  /** Active bans of other origins that `held`'s writer may not end: they take over when it ends. */
  rivals: E[]
}

/**
 * Unban authority over one key, as a pure function of each origin's latest report on it, so arrival order
 * does not decide the outcome. A ban stands while it is in its time unless a later report of someone who may
 * end it (its origin, an admin, a quorum) overrules it. Whatever the message type (a removal, a newer ban
 * already past its time, a shorter ban, a longer ban followed by the writer's own unban), nobody else can end
 * it: a standing ban stays the held entry or a rival behind it. With no standing ban the latest report wins
 * (protocol v1's rule, and the only rule in `any` mode, where everyone may end everything).
 */
export function resolve<E extends LedgerEntry> (reports: readonly E[], now: number, mayEnd: MayEnd): Standing<E> {
  const latest = latestPerOrigin(reports)
  const standing = latest.filter(ban => !actionFamily(ban.action).removes && expiresAt(ban) > now &&
    !latest.some(other => other !== ban && newer(other, ban) && mayEnd(other, ban)))
  if (standing.length === 0) return { held: latest.reduce((a, b) => newer(b, a) ? b : a), rivals: [] }
  // the standing ban that lasts longest is held: the others rarely need to take over
  const held = standing.reduce((a, b) => outlasts(b, a) ? b : a)
  return { held, rivals: standing.filter(b => b !== held) }
}

function latestPerOrigin<E extends LedgerEntry> (reports: readonly E[]): E[] {
  const byOrigin = new Map<string, E>()
  for (const r of reports) {
    const had = byOrigin.get(r.origin)
    if (had === undefined || newer(r, had)) byOrigin.set(r.origin, r)
  }
  return [...byOrigin.values()]
}

function outlasts (a: LedgerEntry, b: LedgerEntry): boolean {
  const ea = expiresAt(a)
  const eb = expiresAt(b)
  return ea !== eb ? ea > eb : newer(a, b)
}
