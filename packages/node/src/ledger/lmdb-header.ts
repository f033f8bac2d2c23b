import { closeSync, fstatSync, openSync, readSync } from 'node:fs'

/**
 * The two meta pages of an LMDB data file, checked without LMDB: the library maps the file and trusts them,
 * so a file truncated below two pages, overwritten with zeros or random bytes, kills the process with SIGSEGV
 * instead of returning an error. Layout of the lmdb package's LMDB (dependencies/lmdb/libraries/liblmdb/mdb.c,
 * 64-bit): a 24-byte page header (pgno, txnid, pad, flags, lower, upper), then MDB_meta: magic, version,
 * address, mapsize, the free and main MDB_db (48 bytes each; the free one's md_pad is the page size), last
 * page, txnid. Meta page 0 is at offset 0, meta page 1 at offset page size.
 */

/** Why a file is not a sound LMDB file: a bounded set (metric label). */
export type LmdbDamage = 'truncated' | 'not_lmdb' | 'bad_version' | 'bad_page_size' | 'bad_meta' | 'bad_root'

export type LmdbHeaderCheck =
  | { state: 'absent' }
  | { state: 'empty' }
  | { state: 'sound', pageSize: number, pages: number, txnid: bigint, entries: bigint }
  | { state: 'damaged', reason: LmdbDamage, detail: string }

const MDB_MAGIC = 0xBEEFC0DE
/** MDB_DATA_VERSION of the LMDB the lmdb package builds (its version word keeps flags in the high 16 bits). */
const MDB_DATA_VERSION = 2
const P_META = 0x08
const P_BRANCH = 0x01
const P_LEAF = 0x02
const P_INVALID = 0xFFFF_FFFF_FFFF_FFFFn
const MIN_PAGE = 512
const MAX_PAGE = 0x10000
/** Page header and MDB_meta up to mm_txnid: what one meta page read needs. */
const META_BYTES = 160
const OFF = { flags: 18, magic: 24, version: 28, pageSize: 48, freeRoot: 88, mainEntries: 128, mainRoot: 136, txnid: 152 } as const

interface Meta { pageSize: number, freeRoot: bigint, mainRoot: bigint, entries: bigint, txnid: bigint }

const damaged = (reason: LmdbDamage, detail: string): LmdbHeaderCheck => ({ state: 'damaged', reason, detail })

/** Checks an LMDB data file's meta pages, size and root pages; reads four small blocks, never maps the file. */
export function checkLmdbHeader (file: string): LmdbHeaderCheck {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' }
    throw err
  }
  try {
    return checkOpen(fd)
  } finally {
    closeSync(fd)
  }
}

function checkOpen (fd: number): LmdbHeaderCheck {
  const size = fstatSync(fd).size
  if (size === 0) return { state: 'empty' }
  const first = readAt(fd, 0, META_BYTES)
  const meta0 = parseMeta(first, 0)
  if ('reason' in meta0) return meta0.reason === 'truncated' ? damaged('truncated', `${size} bytes, shorter than one meta page`) : damaged(meta0.reason, `meta page 0: ${meta0.detail}`)
  const { pageSize } = meta0
  if (size < 2 * pageSize) return damaged('truncated', `${size} bytes, shorter than its two ${pageSize}-byte meta pages`)
  // LMDB writes whole pages (and a write map grows the file by whole pages)
  if (size % pageSize !== 0) return damaged('truncated', `${size} bytes is not a whole number of ${pageSize}-byte pages`)
  const meta1 = parseMeta(readAt(fd, pageSize, META_BYTES), 1)
  if ('reason' in meta1) return damaged(meta1.reason, `meta page 1: ${meta1.detail}`)
  if (meta1.pageSize !== pageSize) return damaged('bad_meta', `meta pages disagree on the page size (${pageSize}, ${meta1.pageSize})`)
  const pages = size / pageSize
  // LMDB opens the meta with the higher txnid (the older one may name pages a later write has reused). Its
  // last-page number is no size bound: the file may end before it when the free list holds the final pages.
  const latest = meta1.txnid > meta0.txnid ? meta1 : meta0
  for (const [name, root] of [['main', latest.mainRoot], ['free', latest.freeRoot]] as const) {
    if (root === P_INVALID) continue
    if (root < 2n || root >= BigInt(pages)) return damaged(root < 2n ? 'bad_root' : 'truncated', `${name} root page ${root} outside the file's ${pages} pages`)
    const flags = readAt(fd, Number(root) * pageSize, OFF.flags + 2).readUInt16LE(OFF.flags)
    if ((flags & (P_BRANCH | P_LEAF)) === 0) return damaged('bad_root', `${name} root page ${root} is not a tree page (flags 0x${flags.toString(16)})`)
  }
  return { state: 'sound', pageSize, pages, txnid: latest.txnid, entries: latest.entries }
}

function parseMeta (page: Buffer, index: number): Meta | { reason: LmdbDamage, detail: string } {
  if (page.length < META_BYTES) return { reason: 'truncated', detail: 'cut short' }
  const flags = page.readUInt16LE(OFF.flags)
  const magic = page.readUInt32LE(OFF.magic)
  if (magic !== MDB_MAGIC) return { reason: 'not_lmdb', detail: `magic 0x${magic.toString(16).padStart(8, '0')}, not 0xbeefc0de` }
  if ((flags & P_META) === 0) return { reason: 'bad_meta', detail: `page flags 0x${flags.toString(16)} lack the meta flag` }
  const version = page.readUInt32LE(OFF.version) & 0xFFFF
  if (version !== MDB_DATA_VERSION) return { reason: 'bad_version', detail: `data version ${version}, this LMDB reads ${MDB_DATA_VERSION}` }
  const pageSize = page.readUInt32LE(OFF.pageSize)
  if (pageSize < MIN_PAGE || pageSize > MAX_PAGE || (pageSize & (pageSize - 1)) !== 0) return { reason: 'bad_page_size', detail: `page size ${pageSize}` }
  const pgno = page.readBigUInt64LE(0)
  if (pgno !== BigInt(index)) return { reason: 'bad_meta', detail: `page number ${pgno}` }
  return {
    pageSize,
    freeRoot: page.readBigUInt64LE(OFF.freeRoot),
    mainRoot: page.readBigUInt64LE(OFF.mainRoot),
    entries: page.readBigUInt64LE(OFF.mainEntries),
    txnid: page.readBigUInt64LE(OFF.txnid)
  }
}

function readAt (fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length)
  const n = readSync(fd, buf, 0, length, position)
  return buf.subarray(0, n)
}
