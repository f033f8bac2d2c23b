import { actionFamily, type LedgerEntry, ledgerKey } from '@fst/protocol'
import { open, type RootDatabase } from 'lmdb'
import { SMALL_STORE_MAP_BYTES, storeOptions } from '../ledger/store-options.js'
import type { Job } from './runner.js'

/**
 * The bans this host's scripts have applied and not yet undone, by ledger key, in an LMDB file of its own
 * (state/applied). The ledger says what should be in force; this says what the scripts did. A job is recorded
 * only once its scripts have run, so a node killed with jobs still queued finds at its next start the bans its
 * scripts never ran, and the applied bans whose removal never ran (Applier.reconcile).
 */
export class AppliedBans {
  private constructor (private readonly db: RootDatabase<LedgerEntry, string>) {}

  /** Opens the store; closed again when its entries cannot be read (ledger/open-store.ts). */
  static async load (path: string): Promise<AppliedBans> {
    const db = open<LedgerEntry, string>({ path, ...storeOptions(SMALL_STORE_MAP_BYTES, true) })
    try {
      // read every entry now: a damaged file shows at the start (and is handled as the ledger's is), not at a
      // job. Read and dropped: keeping them for the reconcile would hold every applied ban decoded at once
      for (const _entry of readAll(db)) { /* read only */ }
      return new AppliedBans(db)
    } catch (err) {
      await db.close()
      throw err
    }
  }

  /** A job's scripts have run: its bans are in force on this host, its removals undone. */
  ran (job: Job): void {
    const removes = actionFamily(job.action).removes
    for (const e of job.events as LedgerEntry[]) {
      const key = ledgerKey(e)
      if (removes) void this.db.remove(key)
      else void this.db.put(key, { action: e.action, name: e.name, protocol: e.protocol, port: e.port, ip: e.ip, time: e.time, duration: e.duration, origin: e.origin })
    }
  }

  /** Every applied ban, by key, read from the store as it is iterated. */
  entries (): Iterable<[string, LedgerEntry]> {
    return readAll(this.db)
  }

  async close (): Promise<void> {
    await this.db.flushed
    await this.db.close()
  }
}

function * readAll (db: RootDatabase<LedgerEntry, string>): Generator<[string, LedgerEntry]> {
  for (const { key, value } of db.getRange()) {
    if (typeof key === 'string' && typeof value?.ip === 'string') yield [key, value]
  }
}
