import { join } from 'node:path'
import { type LmdbDamage, checkLmdbHeader } from './lmdb-header.js'
import { type ProbeDamage, probeLmdb } from './lmdb-probe.js'

/** The LMDB data file of an environment directory (the ledger's, the held reports'). */
export const DATA_FILE = 'data.mdb'
/** LMDB's reader table beside it: meaningless once its data file is moved aside. */
export const LMDB_LOCK_FILE = 'lock.mdb'

/** Why a store file counts as damaged: a bounded set, the metric's `reason` label (`empty` is a warning only). */
export type DamageReason = LmdbDamage | ProbeDamage | 'unreadable'

export type StoreCheck =
  /** No data file: a new store. */
  | { state: 'absent', file: string }
  /** A 0-byte data file: LMDB would start it afresh, so whatever it held is gone; worth a warning. */
  | { state: 'empty', file: string }
  | { state: 'sound', file: string, entries: number, ms: number }
  | { state: 'damaged', file: string, reason: DamageReason, detail: string }
  /** The header is sound but the read check could not run: the node opens it as before, and says so. */
  | { state: 'unchecked', file: string, detail: string }

/**
 * Whether the LMDB environment in `dir` can be opened without taking the process down: first its meta pages
 * (fast, in this process, catches truncation, zeros and random bytes), then every entry read in a child
 * process (catches damaged tree pages behind sound meta pages, which LMDB cannot tell without reading them).
 * `deep: false` stops after the header (`fst check`, which must not open a running node's store).
 */
export function checkStore (dir: string, options: { deep?: boolean, timeoutMs?: number } = {}): StoreCheck {
  const file = join(dir, DATA_FILE)
  const header = checkLmdbHeader(file)
  if (header.state === 'absent' || header.state === 'empty') return { state: header.state, file }
  if (header.state === 'damaged') return { state: 'damaged', file, reason: header.reason, detail: header.detail }
  if (options.deep === false) return { state: 'sound', file, entries: Number(header.entries), ms: 0 }
  const probe = probeLmdb(dir, options.timeoutMs)
  if (probe.state === 'inconclusive') return { state: 'unchecked', file, detail: probe.detail }
  if (probe.state === 'damaged') return { state: 'damaged', file, reason: probe.reason, detail: probe.detail }
  return { state: 'sound', file, entries: probe.entries, ms: probe.ms }
}
