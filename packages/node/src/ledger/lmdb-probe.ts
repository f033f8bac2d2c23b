import { spawnSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { RECORD_SHAPES } from './store-options.js'

/**
 * Reads every entry of an LMDB environment in a child process, the way the node's start-up does. LMDB keeps
 * no checksums: damaged tree pages behind sound meta pages make it crash (SIGSEGV, SIGABRT on an assertion),
 * throw MDB_CORRUPTED / MDB_PAGE_NOTFOUND, or silently end the scan early. In a child that is an answer
 * instead of the end of the node; the count against the entry count LMDB keeps in the meta page catches the
 * silent case (a file truncated past its meta pages).
 */

/** Why a probe says damaged (metric label). */
export type ProbeDamage = 'crashed' | 'corrupted' | 'entries_missing' | 'check_timeout'

export type ProbeResult =
  | { state: 'sound', entries: number, ms: number }
  | { state: 'damaged', reason: ProbeDamage, detail: string }
  /** The probe could not run (spawn failed, a non-LMDB error): no verdict about the file. */
  | { state: 'inconclusive', detail: string }

/** LMDB's own error codes that mean the file's pages are not what its tree says (lmdb.h). */
export const DAMAGE_CODES = new Map<number, string>([
  [-30797, 'MDB_PAGE_NOTFOUND'], [-30796, 'MDB_CORRUPTED'], [-30795, 'MDB_PANIC'], [-30794, 'MDB_VERSION_MISMATCH'],
  [-30793, 'MDB_INVALID'], [-30784, 'MDB_INCOMPATIBLE'], [-30782, 'MDB_BAD_TXN'], [-30781, 'MDB_BAD_VALSIZE']
])

/** A bound however large the ledger: 100k entries read in about 0.5 s here, so this leaves room for load. */
const BASE_TIMEOUT_MS = 30_000
const BYTES_PER_MS = 4096

// read-only; every key by the cursor, every value's bytes by a lookup of its key (copied out like the node's
// own read, into one reused buffer and without decoding: half the time of a getRange of values); one JSON line.
// The record shapes a store may keep (store-options.ts) sit under a symbol, outside the keys' default range
const PROBE_SOURCE = `
const [url, path] = process.argv.slice(1)
const { open } = await import(url)
const db = open({ path, readOnly: true, encoding: 'binary', compression: false })
try {
  const expected = db.getStats().entryCount
  let count = 0
  for (const key of db.getKeys()) if (db.getBinaryFast(key) !== undefined) count++
  const entries = count
  if (db.getBinaryFast(Symbol.for(${JSON.stringify(RECORD_SHAPES.description)})) !== undefined) count++
  process.stdout.write(JSON.stringify({ count, expected, entries }))
} catch (err) {
  process.stdout.write(JSON.stringify({ error: String(err?.message).split('\\n')[0], code: err?.code ?? null }))
}
`

/** Probes the environment in `dir` (its data.mdb exists and passed the header check). Blocks until it answers. */
export function probeLmdb (dir: string, timeoutMs?: number): ProbeResult {
  const started = performance.now()
  const bound = timeoutMs ?? BASE_TIMEOUT_MS + Math.ceil(statSync(`${dir}/data.mdb`).size / BYTES_PER_MS)
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE_SOURCE, import.meta.resolve('lmdb'), dir], {
    encoding: 'utf8',
    timeout: bound,
    killSignal: 'SIGKILL',
    maxBuffer: 1024 * 1024,
    // the node's own flags (a CPU profile, a heap limit) are not the probe's
    env: { ...process.env, NODE_OPTIONS: '' }
  })
  if ((child.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') return { state: 'damaged', reason: 'check_timeout', detail: `reading it took longer than ${Math.round(bound / 1000)} s` }
  if (child.error !== undefined) return { state: 'inconclusive', detail: child.error.message }
  if (child.signal !== null) return { state: 'damaged', reason: 'crashed', detail: `reading it crashed LMDB (${child.signal}${lastLine(child.stderr)})` }
  let answer: { count?: number, expected?: number, entries?: number, error?: string, code?: number | null }
  try {
    answer = JSON.parse(child.stdout) as typeof answer
  } catch {
    return { state: 'inconclusive', detail: `exit ${child.status}${lastLine(child.stderr)}` }
  }
  if (answer.error !== undefined) {
    const name = typeof answer.code === 'number' ? DAMAGE_CODES.get(answer.code) : undefined
    return name === undefined ? { state: 'inconclusive', detail: answer.error } : { state: 'damaged', reason: 'corrupted', detail: `reading it failed: ${answer.error}` }
  }
  if (answer.count !== answer.expected) return { state: 'damaged', reason: 'entries_missing', detail: `${answer.count} entries readable of the ${answer.expected} its meta page counts` }
  return { state: 'sound', entries: answer.entries ?? 0, ms: Math.round(performance.now() - started) }
}

function lastLine (text: string): string {
  const line = text.trim().split('\n').at(-1)?.trim()
  return line === undefined || line === '' ? '' : `: ${line.slice(0, 200)}`
}
