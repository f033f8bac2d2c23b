import { renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { LedgerDamagedError } from '../errors.js'
import { checkStore, DATA_FILE, type DamageReason, LMDB_LOCK_FILE } from './integrity.js'
import { DAMAGE_CODES } from './lmdb-probe.js'

/** What a node does with a damaged store file (config `ledger.onDamage`). */
export type OnDamage = 'refuse' | 'rebuild'

/** The stores a node keeps: the metric's `file` label. */
export type StoreName = 'ledger' | 'held' | 'applied'

/** What starting with an empty store means, per store. */
const REFILL: Record<StoreName, string> = {
  ledger: 'catch-up rebuilds it from peers',
  held: 'catch-up rebuilds it from peers',
  applied: 'every active ban is applied again'
}

export interface OpenStoreInit {
  onDamage: OnDamage
  log: Logger
  /** Counts a damaged (or empty) store file. */
  onDamaged: (store: StoreName, reason: DamageReason | 'empty') => void
  now?: () => Date
}

/** Something that opens an LMDB environment directory and reads it in full (Ledger.load, HeldReports.load). */
export type StoreOpener<T> = (dir: string) => Promise<T>

/**
 * Checks a store's file before anything else of the start runs (integrity.ts). A damaged file either stops the
 * start with one line naming it (`refuse`: the file stays where it is, so every restart refuses again until
 * someone looks), or is moved aside as `data.mdb.damaged-<time>` so the store starts empty (`rebuild`:
 * catch-up on connect fills it from the peers, whose entries carry their origins' proofs). An empty file is a
 * warning, never silent. Opens nothing: a start that fails later leaves no new store behind.
 */
export function prepareStore (store: StoreName, dir: string, init: OpenStoreInit): void {
  const check = checkStore(dir)
  if (check.state === 'empty') {
    init.onDamaged(store, 'empty')
    init.log.warn({ store, file: check.file }, `${store} file ${check.file} is empty (0 bytes): starting with an empty ${store}; ${REFILL[store]}`)
  } else if (check.state === 'unchecked') {
    init.log.warn({ store, file: check.file, detail: check.detail }, `${store} file ${check.file}: its entries could not be checked before opening it`)
  } else if (check.state === 'damaged') {
    damaged(store, dir, check.reason, check.detail, init)
  }
}

/** Opens a prepared store; one whose entries LMDB reads but that do not decode is damage too, handled the same way. */
export async function openStore<T> (store: StoreName, dir: string, open: StoreOpener<T>, init: OpenStoreInit): Promise<T> {
  try {
    return await open(dir)
  } catch (err) {
    if (!isDamage(err)) throw err
    damaged(store, dir, 'unreadable', (err as Error).message.split('\n')[0] ?? '', init)
    return await open(dir)
  }
}

function damaged (store: StoreName, dir: string, reason: DamageReason, detail: string, init: OpenStoreInit): void {
  const file = join(dir, DATA_FILE)
  init.onDamaged(store, reason)
  if (init.onDamage === 'refuse') {
    throw new LedgerDamagedError(`${file}: the ${store} file is damaged (${detail}); not started (ledger.onDamage: refuse): restore it from a backup, move it aside, or set ledger.onDamage: rebuild to start empty and catch up from peers`)
  }
  const aside = `${file}.damaged-${(init.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-')}`
  renameSync(file, aside)
  // the reader table belongs to the moved file; LMDB creates a new one
  rmSync(join(dir, LMDB_LOCK_FILE), { force: true })
  init.log.warn({ store, file, reason, detail, movedTo: aside }, `${store} file ${file} is damaged (${detail}): moved aside to ${aside}; starting with an empty ${store}, ${REFILL[store]}`)
}

/** Errors of reading a store that mean damage, not a problem of the system (permissions, disk full, limits). */
function isDamage (err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') return false
  if (typeof code === 'number') return DAMAGE_CODES.has(code)
  // no code: a value that does not decode (msgpack), or does not have an entry's shape
  return err instanceof Error
}
