/**
 * The spool: reports the hook could not hand to the node (docs/troubleshooting.md). One file per report,
 * written by `fst-action`/`fst` and read by the node at start and whenever files appear. The name carries what
 * a reader needs without opening the file: the report time (names sort in report order), a unique part, and
 * the file's size, so a writer bounds the spool with one readdir and a reader spots a truncated file.
 */

/** Largest spool file a reader opens: one publish request is a few hundred bytes. */
export const MAX_SPOOL_FILE = 4096

/**
 * A writer that finds the spool full appends one byte to this file in the spool; the node counts its bytes
 * (fst_node_spool_full_total) and removes it. Its name is no record's name.
 */
export const SPOOL_FULL_MARKER = '.full'

/** Format version written in every record. */
export const SPOOL_VERSION = 1

/** A report in the spool: the control socket's publish request and when it was made (ms since the epoch). */
export interface SpoolRecord {
  v: typeof SPOOL_VERSION
  time: number
  request: Record<string, unknown>
}

/** `<time, 15 digits>-<unique>-<size>.json`: the time first so that names sort by report time. */
const NAME = /^(\d{15})-([0-9a-z]{1,40})-(\d{1,6})\.json$/

/** The final name of a record of `size` bytes reported at `time`; `unique` is lowercase letters and digits. */
export function spoolFileName (time: number, unique: string, size: number): string {
  return `${String(time).padStart(15, '0')}-${unique}-${size}.json`
}

/** What a spool file's name says, or null for a name that is not a record (temp files, markers). */
export function parseSpoolFileName (name: string): { time: number, size: number } | null {
  const m = NAME.exec(name)
  return m === null ? null : { time: Number(m[1]), size: Number(m[3]) }
}

/** The bytes of a record: one JSON line. */
export function encodeSpoolRecord (time: number, request: Record<string, unknown>): Buffer {
  return Buffer.from(`${JSON.stringify({ v: SPOOL_VERSION, time, request } satisfies SpoolRecord)}\n`)
}

/** Why a spool file is not a record. */
export type SpoolDamage = 'size_mismatch' | 'not_json' | 'bad_record'

/**
 * Parses a record's bytes against what its name says. Never throws: a half-written or foreign file is
 * damage, reported by reason. The request inside is not validated here: the node validates it as it
 * validates every control-socket request.
 */
export function decodeSpoolRecord (bytes: Uint8Array, expectedSize: number): { valid: true, record: SpoolRecord } | { valid: false, reason: SpoolDamage, error: string } {
  if (bytes.length !== expectedSize) return { valid: false, reason: 'size_mismatch', error: `${bytes.length} bytes, the name says ${expectedSize}` }
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    return { valid: false, reason: 'not_json', error: 'not JSON' }
  }
  const r = doc as Partial<SpoolRecord> | null
  if (typeof r !== 'object' || r === null || r.v !== SPOOL_VERSION) return { valid: false, reason: 'bad_record', error: `not a version ${SPOOL_VERSION} spool record` }
  if (typeof r.time !== 'number' || !Number.isSafeInteger(r.time) || r.time <= 0) return { valid: false, reason: 'bad_record', error: 'time must be a positive integer' }
  if (typeof r.request !== 'object' || r.request === null || Array.isArray(r.request)) return { valid: false, reason: 'bad_record', error: 'request must be an object' }
  // only reports: a spooled file can never ask the node for anything else (a repin, say)
  if ((r.request as { op?: unknown }).op !== 'publish') return { valid: false, reason: 'bad_record', error: 'request must be a publish' }
  return { valid: true, record: { v: SPOOL_VERSION, time: r.time, request: r.request } }
}
