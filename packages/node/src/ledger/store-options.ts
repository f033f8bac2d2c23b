/** Address space reserved for the ledger's map: its bound of 1,000,000 entries at ~900 bytes each fits. */
export const LEDGER_MAP_BYTES = 2 * 1024 ** 3
/** The same for the small stores (applied bans, held reports, CrowdSec cursors, the metrics history). */
export const SMALL_STORE_MAP_BYTES = 256 * 1024 ** 2

/**
 * Where a store of many records of one shape (the ledger, the applied bans) keeps their field names, once. Without
 * it msgpackr writes them into every record: ~75 of a ledger record's ~500 bytes. Records written before still
 * read. Such a store holds this one key that is not a string beside its own.
 */
export const RECORD_SHAPES = Symbol.for('structures')

/**
 * The options every FST LMDB store opens with; `records` for a store of many records of one shape. `mapSize`
 * reserves the map's address space up front; nothing is resident until a page is read. Left to lmdb-js, the
 * map starts at 128 kB and is replaced by a larger one each time the file outgrows it, and the older maps stay
 * mapped with the pages that reads had made resident: a 94 MB store read while it grew held 159 MB of mapped
 * pages in 9 mappings, against 94 MB in one with the space reserved (docs/benchmarks.md, Footprint). A store
 * that outgrows the reservation still grows.
 */
export function storeOptions (mapSize: number, records = false): { compression: false, mapSize: number, sharedStructuresKey?: symbol } {
  return records ? { compression: false, mapSize, sharedStructuresKey: RECORD_SHAPES } : { compression: false, mapSize }
}
