import { hash } from 'node:crypto'
import { actionFamily } from './event.js'
import { fail, ok, RejectReason, type Result } from './errors.js'
import { entryTuple, type LedgerEntry } from './ledger.js'

/**
 * Provenance (protocol version 2): an origin signs one Merkle root per batch it publishes, and every entry
 * keeps its inclusion path, so any node can prove to any other that the origin issued the entry, however it
 * travelled (gossip, a relay's catch-up, a restored ledger). One Ed25519 signature per batch instead of one
 * per entry: a verifier checks ~11 hashes per entry and each distinct root's signature once (docs/protocol.md §5).
 */

/** Bytes of a tree node: truncated SHA-256. A forger needs a second preimage (2^128); only the signer gains from collisions, and it can sign anything anyway. */
export const NODE_BYTES = 16
/** Largest batch a root may cover; bounds the path to 11 nodes. */
export const MAX_BATCH_LEAVES = 2000
const MAX_PATH = 11
const ROOT_PREFIX = Buffer.from('fst/2 batch root\n')
const LEAF = Buffer.from([0])
const INNER = Buffer.from([1])

/**
 * An origin's proof of one entry: its batch root's signature (base64), the leaf's index and the batch size,
 * the sibling hashes bottom-up (base64, NODE_BYTES each). An expiry tombstone keeps the proof of its ban
 * plus the ban's time and duration (`bt`, `bd`), from which it is derived.
 */
export interface EntryProof {
  s: string
  i: number
  n: number
  p: string
  bt?: number
  bd?: number
}

/** A ledger entry with its origin's proof. */
export interface SignedEntry extends LedgerEntry {
  proof: EntryProof
}

/**
 * A leaf's hash: SHA-256 of the byte LEAF (0) and the entry's eight fields as a JSON array (the digest's
 * tuple), taken from the string (NUL is byte 0 in UTF-8), so no Buffer is built per leaf. Full 32 bytes; a
 * tree node is its first NODE_BYTES.
 */
function leafHash (e: LedgerEntry): Buffer {
  return hash('sha256', `\0${JSON.stringify(entryTuple(e))}`, 'buffer')
}

function h (...parts: Buffer[]): Buffer {
  return hash('sha256', Buffer.concat(parts), 'buffer').subarray(0, NODE_BYTES)
}

/** What the origin signs for a batch: a domain-separated root and the leaf count. */
export function rootMessage (root: Buffer, n: number): Buffer {
  const count = Buffer.alloc(4)
  count.writeUInt32BE(n)
  return Buffer.concat([ROOT_PREFIX, root, count])
}

/**
 * The tree of a batch: a lone node at the end of a level moves up unchanged. Returns the root and every
 * leaf's path (base64).
 */
export function buildTree (entries: readonly LedgerEntry[]): { root: Buffer, paths: string[] } {
  let level = entries.map(e => leafHash(e).subarray(0, NODE_BYTES))
  const paths: Buffer[][] = entries.map(() => [])
  // index of each leaf within the current level
  const at = entries.map((_, i) => i)
  while (level.length > 1) {
    const next: Buffer[] = []
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? h(INNER, level[i]!, level[i + 1]!) : level[i]!)
    for (let leaf = 0; leaf < entries.length; leaf++) {
      const idx = at[leaf]!
      const sibling = idx ^ 1
      if (sibling < level.length) paths[leaf]!.push(level[sibling]!)
      at[leaf] = idx >> 1
    }
    level = next
  }
  return { root: level[0] ?? h(LEAF), paths: paths.map(p => Buffer.concat(p).toString('base64')) }
}

/**
 * Tree nodes already proven to lead to one verified root (one batch of `n` leaves), every level's nodes in one
 * flat buffer with a flag each: a later leaf of the batch stops hashing where its walk meets a known node.
 * Leaves of one batch arrive spread over many catch-up pages, in no order of the batch; over a whole batch a
 * leaf then costs about 2.5 hashes instead of ~11, and the checks are byte compares in place (a Map of Buffers
 * cost more than the hashing it saved).
 */
export class KnownNodes {
  /** First node of each level in the flat layout; the root's level (width 1) last. */
  private readonly levels: number[] = []
  private readonly nodes: Uint8Array
  private readonly flags: Uint8Array
  /** Nodes known. */
  size = 0
  /** Node slots allocated (every level of the batch's tree): what a cache of these bounds. */
  readonly slots: number

  constructor (readonly n: number) {
    let width = n
    let total = 0
    for (;;) {
      this.levels.push(total)
      total += width
      if (width <= 1) break
      width = Math.ceil(width / 2)
    }
    this.slots = total
    this.nodes = new Uint8Array(total * NODE_BYTES)
    this.flags = new Uint8Array(total)
  }

  /** Whether the node at (level, idx) is known and equals the NODE_BYTES at `src[from]`. */
  matches (level: number, idx: number, src: Uint8Array, from: number): boolean {
    const slot = this.levels[level]! + idx
    if (this.flags[slot] !== 1) return false
    const base = slot * NODE_BYTES
    for (let b = 0; b < NODE_BYTES; b++) if (this.nodes[base + b] !== src[from + b]) return false
    return true
  }

  set (level: number, idx: number, src: Uint8Array, from: number): void {
    const slot = this.levels[level]! + idx
    if (this.flags[slot] !== 1) {
      this.flags[slot] = 1
      this.size++
    }
    this.nodes.set(src.subarray(from, from + NODE_BYTES), slot * NODE_BYTES)
  }
}

/** One hash of a walk, into a scratch buffer the caller copies from before the next. */
const inner = Buffer.alloc(1 + 2 * NODE_BYTES)
inner[0] = 1

/**
 * Walks from a leaf up its path to the root. `visit` sees each level's node (`node`, NODE_BYTES) before it is
 * hashed with its sibling (at `path[used]`, or none when the node is the last of an odd level: `hasSib`);
 * returning false stops the walk. Returns the root and the path bytes used, or null when stopped or the path
 * is too short.
 */
function walkPath (leaf: LedgerEntry, i: number, n: number, path: Buffer,
  visit: (level: number, idx: number, width: number, node: Buffer, hasSib: boolean, used: number) => boolean): { root: Buffer, used: number } | null {
  let node = leafHash(leaf)
  let idx = i
  let width = n
  let k = 0
  let level = 0
  while (width > 1) {
    const hasSib = (idx ^ 1) < width
    if (hasSib && k + NODE_BYTES > path.length) return null
    if (!visit(level, idx, width, node, hasSib, k)) return null
    if (hasSib) {
      // left ‖ right into the scratch buffer: no concat and no subarray per level
      const left = idx % 2 === 0 ? 1 : 1 + NODE_BYTES
      node.copy(inner, left, 0, NODE_BYTES)
      path.copy(inner, 2 + NODE_BYTES - left, k, k + NODE_BYTES)
      node = hash('sha256', inner, 'buffer')
      k += NODE_BYTES
    }
    idx >>= 1
    width = Math.ceil(width / 2)
    level++
  }
  return { root: node.subarray(0, NODE_BYTES), used: k }
}

/**
 * The root a leaf and its path lead to, or null when the path does not fit the index and size. With `known`
 * (the nodes proven for the root the proof claims), a walk that meets a known node stops there (the rest of
 * the path must then equal the known siblings: a stored proof is whole, not just its start) and returns
 * 'known': proven against that root. The nodes the walk computed below the meeting point are proven with it
 * and join `known`, so the next leaf of the batch meets one sooner.
 */
export function rootFromPath (leaf: LedgerEntry, i: number, n: number, path: Buffer, known?: KnownNodes): Buffer | 'known' | null {
  if (path.length % NODE_BYTES !== 0) return null
  let met: boolean | undefined
  const walked: Array<[number, number, Buffer, number]> = []
  const end = walkPath(leaf, i, n, path, (level, idx, width, node, hasSib, used) => {
    if (known === undefined) return true
    if (!known.matches(level, idx, node, 0)) {
      walked.push([level, idx, node, hasSib ? used : -1])
      return true
    }
    met = restKnown(path, used, idx, width, level, known)
    return false
  })
  if (met !== undefined) {
    if (met) {
      for (const [level, idx, node, sibAt] of walked) {
        known!.set(level, idx, node, 0)
        if (sibAt >= 0) known!.set(level, idx ^ 1, path, sibAt)
      }
    }
    return met ? 'known' : null
  }
  return end !== null && end.used === path.length ? end.root : null
}

/** Whether the rest of a path equals the known siblings. */
function restKnown (path: Buffer, k: number, idx: number, width: number, level: number, known: KnownNodes): boolean {
  while (width > 1) {
    if ((idx ^ 1) < width) {
      if (k + NODE_BYTES > path.length || !known.matches(level, idx ^ 1, path, k)) return false
      k += NODE_BYTES
    }
    idx >>= 1
    width = Math.ceil(width / 2)
    level++
  }
  return k === path.length
}

/** Records every node of a verified leaf's walk (its own and its siblings) as known. */
export function rememberPath (leaf: LedgerEntry, i: number, n: number, path: Buffer, known: KnownNodes): void {
  walkPath(leaf, i, n, path, (level, idx, _width, node, hasSib, used) => {
    known.set(level, idx, node, 0)
    if (hasSib) known.set(level, idx ^ 1, path, used)
    return true
  })
}

/** The entry whose leaf the proof signs: the entry itself, or for an expiry tombstone the ban it came from. */
export function provenEntry (e: LedgerEntry, proof: EntryProof): Result<LedgerEntry> {
  if (proof.bt === undefined && proof.bd === undefined) return ok(e)
  const { family, removes } = actionFamily(e.action)
  const bt = proof.bt
  const bd = proof.bd
  if (!removes || e.duration !== 0 || !Number.isSafeInteger(bt) || !Number.isSafeInteger(bd) || bd! <= 0 || bt! <= 0 || bt! + bd! * 1000 !== e.time) {
    return fail(RejectReason.badProof, 'tombstone does not derive from the ban it names')
  }
  return ok({ ...e, action: family, time: bt!, duration: bd! })
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Shape check of an untrusted proof (catch-up wire `[s, i, n, p]` or `[s, i, n, p, bt, bd]`). */
export function parseProof (item: unknown): Result<EntryProof> {
  if (!Array.isArray(item) || (item.length !== 4 && item.length !== 6)) return fail(RejectReason.badProof, 'proof must be a 4- or 6-element array')
  const [s, i, n, p, bt, bd] = item as unknown[]
  if (typeof s !== 'string' || s.length !== 88 || !B64.test(s)) return fail(RejectReason.badProof, 'bad signature encoding')
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_BATCH_LEAVES) return fail(RejectReason.badProof, 'bad batch size')
  if (!Number.isInteger(i) || (i as number) < 0 || (i as number) >= (n as number)) return fail(RejectReason.badProof, 'bad leaf index')
  // canonical base64 of whole nodes, checked by length rather than a regex over every path (catch-up's hot loop);
  // a path with other characters decodes to other bytes and fails the walk
  if (typeof p !== 'string' || p.length > 4 * Math.ceil(MAX_PATH * NODE_BYTES / 3) || p.length % 4 !== 0) return fail(RejectReason.badProof, 'bad path encoding')
  const proof: EntryProof = { s, i: i as number, n: n as number, p }
  if (item.length === 6) {
    if (typeof bt !== 'number' || typeof bd !== 'number') return fail(RejectReason.badProof, 'bad ban time or duration')
    proof.bt = bt
    proof.bd = bd
  }
  return ok(proof)
}

/** A proof as the catch-up wire carries it. */
export function proofToWire (p: EntryProof): unknown[] {
  return p.bt === undefined ? [p.s, p.i, p.n, p.p] : [p.s, p.i, p.n, p.p, p.bt, p.bd]
}

/** The proof of an expiry tombstone: its ban's, plus the ban's time and duration. */
export function tombstoneProof (ban: LedgerEntry, banProof: EntryProof): EntryProof {
  if (banProof.bt !== undefined) return banProof
  return { ...banProof, bt: ban.time, bd: ban.duration }
}
