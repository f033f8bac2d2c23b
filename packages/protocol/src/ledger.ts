import { actionFamily, type FstEvent } from './event.js'

/**
 * The ledger's rules, shared by every node, the metrics service and the CLI: one entry per key, the later
 * event wins, and a ban's expiry is a pure function of the ban. Pure, so every reader derives the same state.
 */

/** One key's latest event, and who issued it. */
export interface LedgerEntry extends FstEvent {
  /** Peer ID of the node that published the event. */
  origin: string
}

/**
 * The fields that make two versions of a key differ, in a fixed order: what the catch-up digest and the
 * provenance leaf hash (as JSON).
 */
export function entryTuple (e: LedgerEntry): [string, string, string, string, string, number, number, string] {
  return [e.action, e.name, e.protocol, e.port, e.ip, e.time, e.duration, e.origin]
}

/** Key of an entry: `unban` and `ban` share one, so the later of the two wins. */
export function ledgerKey (event: Pick<FstEvent, 'action' | 'name' | 'ip'>): string {
  return `${actionFamily(event.action).family}|${event.name}|${event.ip}`
}

/**
 * The convergence rule: per key, the event with the later issue time wins; equal times are ordered by origin
 * peer ID, then by action so that `unban` beats `ban`, then by the remaining fields so that the order is total.
 * Every node applying the same set of events in any order ends with the same ledger.
 */
export function newer (a: LedgerEntry, b: LedgerEntry): boolean {
  if (a.time !== b.time) return a.time > b.time
  if (a.origin !== b.origin) return a.origin > b.origin
  const removesA = actionFamily(a.action).removes
  if (removesA !== actionFamily(b.action).removes) return removesA
  return tieBreak(a) > tieBreak(b)
}

function tieBreak (e: LedgerEntry): string {
  return `${e.protocol}|${e.port}|${String(e.duration).padStart(10, '0')}`
}

/** Whether an entry bans right now: not removed and not expired. */
export function isActive (entry: LedgerEntry, now = Date.now()): boolean {
  if (actionFamily(entry.action).removes) return false
  return entry.duration === 0 || entry.time + entry.duration * 1000 > now
}

/** Expiry time in ms, or Infinity for a permanent or removed entry. */
export function expiresAt (entry: LedgerEntry): number {
  return entry.duration === 0 || actionFamily(entry.action).removes ? Infinity : entry.time + entry.duration * 1000
}

/**
 * What an expired ban becomes on every node: the matching removal, issued by the ban's origin at the ban's
 * expiry time. A pure function of the ban, so all nodes write the same entry whether or not the origin's unban
 * message reaches them.
 */
export function expiryTombstone (ban: LedgerEntry): LedgerEntry {
  return { ...ban, action: `un${actionFamily(ban.action).family}`, duration: 0, time: expiresAt(ban) }
}

/** A removal, or a ban past its expiry, older than the retention: pruned, and refused by catch-up. */
export function prunable (e: LedgerEntry, retentionMs: number, now = Date.now()): boolean {
  const end = actionFamily(e.action).removes ? e.time : expiresAt(e)
  return end < now - retentionMs
}

/** Whether two entries are the same version of a key (all eight fields equal). */
export function sameVersion (a: LedgerEntry | undefined, b: LedgerEntry): boolean {
  return a !== undefined && a.time === b.time && a.origin === b.origin && a.action === b.action && a.protocol === b.protocol &&
    a.port === b.port && a.duration === b.duration && a.name === b.name && a.ip === b.ip
}
