/** Address space reserved for the ledger's map: its bound of 1,000,000 entries at ~900 bytes each fits. */
export const LEDGER_MAP_BYTES = 2 * 1024 ** 3
/** The same for the small stores (applied bans, held reports, CrowdSec cursors, the metrics history). */
export const SMALL_STORE_MAP_BYTES = 256 * 1024 ** 2

/**
 * The options every FST LMDB store opens with. `mapSize` reserves the map's address space up front; nothing is
 * resident until a page is read. Left to lmdb-js, the map starts at 128 kB and is replaced by a larger one
 * each time the file outgrows it, and the older maps stay mapped with the pages that reads had made resident:
 * a 94 MB store read while it grew held 159 MB of mapped pages in 9 mappings, against 94 MB in one with the
 * space reserved (docs/benchmarks.md, Footprint). A store that outgrows the reservation still grows.
 */
export function storeOptions (mapSize: number): { compression: false, mapSize: number } {
  return { compression: false, mapSize }
}
