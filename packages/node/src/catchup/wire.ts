import {
  actionFamily, type AddressGuard, type EntryProof, fail, type LedgerEntry, ok, parseProof, proofToWire, RejectReason, type Result, type SignedEntry, validateEvent
} from '@fst/protocol'
import { BUCKETS, DIGEST_BYTES } from '../ledger/digest.js'

/** The libp2p protocol ID of catch-up. */
export const CATCHUP_PROTOCOL = '/fst/catchup/2.0.0'
/** Wire version in `hello`; also the major of the protocol ID, so a v1 node is refused at protocol negotiation. */
export const CATCHUP_VERSION = 2
/** Digest buckets on the wire: the ledger's BUCKETS, then as many for held quorum reports. */
export const WIRE_BUCKETS = BUCKETS * 2
/** Largest frame either side sends or reads (length prefix excluded). */
export const MAX_FRAME_BYTES = 1024 * 1024
/** Most entries in one `entries` frame. */
export const MAX_ENTRIES_PER_FRAME = 2000
/**
 * `entries` frames a server may send ahead of the client's `more`: verification made the client slower than
 * the server, and libp2p's byte stream buffers what arrives unread (and resets the stream past 4 MiB).
 */
export const ENTRIES_CREDIT = 2
/** Longest peer ID string accepted as an origin. */
const MAX_ORIGIN_LENGTH = 128

/**
 * Catch-up frames: UTF-8 JSON objects, each sent with an unsigned-varint length prefix.
 * Client → server: `hello`, then `fetch` if the server answered `digests`.
 * Server → client: `same` | `digests` | `error`; after `fetch`: `entries`* then `end`. The server has at most
 * ENTRIES_CREDIT `entries` frames unacknowledged; the client sends `more` after applying each one.
 * Buckets 0-1023 are the ledger's, 1024-2047 those of held quorum reports (ledger/held.ts); a client
 * applies both kinds the same way (a report of an action with a quorum rule is held wherever it came from).
 */
export type Frame =
  | { t: 'hello', v: 2, n: number, root: string }
  | { t: 'same' }
  | { t: 'digests', d: string }
  | { t: 'fetch', b: number[] }
  | { t: 'entries', s: string[], e: WireEntry[] }
  | { t: 'more' }
  | { t: 'end' }
  | { t: 'error', code: string, error: string }

/**
 * One ledger entry on the wire: the 7 event fields of the gossip format, the origin peer ID, the origin's proof
 * `[s, i, n, path]` (or `[…, banTime, banDuration]` for an expiry tombstone), where `s` is an index into the
 * frame's table of root signatures: entries of one batch share one (88 bytes saved per entry).
 */
export type WireEntry = [string, string, string, string, string, number, number, string, unknown[]]

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFrame (frame: Frame): Uint8Array {
  return encoder.encode(JSON.stringify(frame))
}

const HEX = /^[0-9a-f]{64}$/

/** Decodes and checks the shape of a frame; the sender is a listed peer, still never trusted. */
export function decodeFrame (bytes: Uint8Array): Result<Frame> {
  if (bytes.byteLength > MAX_FRAME_BYTES) return fail(RejectReason.tooLarge, `frame over ${MAX_FRAME_BYTES} bytes`)
  let f: Record<string, unknown>
  try {
    f = JSON.parse(decoder.decode(bytes))
  } catch {
    return fail(RejectReason.badShape, 'frame is not UTF-8 JSON')
  }
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return fail(RejectReason.badShape, 'frame must be an object')
  switch (f.t) {
    case 'hello':
      if (f.v !== CATCHUP_VERSION || f.n !== BUCKETS || typeof f.root !== 'string' || !HEX.test(f.root)) break
      return ok({ t: 'hello', v: CATCHUP_VERSION, n: BUCKETS, root: f.root })
    case 'same':
    case 'more':
    case 'end':
      return ok({ t: f.t })
    case 'digests': {
      if (typeof f.d !== 'string' || Buffer.byteLength(f.d, 'base64') !== WIRE_BUCKETS * DIGEST_BYTES) break
      return ok({ t: 'digests', d: f.d })
    }
    case 'fetch': {
      const b = f.b
      if (!Array.isArray(b) || b.length > WIRE_BUCKETS || !b.every(i => Number.isInteger(i) && i >= 0 && i < WIRE_BUCKETS)) break
      return ok({ t: 'fetch', b: b as number[] })
    }
    case 'entries': {
      if (!Array.isArray(f.e) || f.e.length > MAX_ENTRIES_PER_FRAME) break
      if (!Array.isArray(f.s) || f.s.length > MAX_ENTRIES_PER_FRAME || !f.s.every(x => typeof x === 'string')) break
      return ok({ t: 'entries', s: f.s as string[], e: f.e as WireEntry[] })
    }
    case 'error':
      return ok({ t: 'error', code: String(f.code).slice(0, 64), error: String(f.error).slice(0, 512) })
  }
  return fail(RejectReason.badShape, `bad ${JSON.stringify(String(f.t).slice(0, 16))} frame`)
}

export function toWire (e: SignedEntry, sigIndex: (s: string) => number): WireEntry {
  const proof = proofToWire(e.proof)
  proof[0] = sigIndex(e.proof.s)
  return [e.action, e.name, e.protocol, e.port, e.ip, e.time, e.duration, e.origin, proof]
}

/** A wire entry's proof with its signature looked up in the frame's table (untouched when the index is bad). */
export function withSignature (item: unknown, table: readonly string[]): unknown {
  if (!Array.isArray(item) || !Array.isArray(item[8])) return item
  const proof = item[8] as unknown[]
  const index = proof[0]
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= table.length) return item
  return [...item.slice(0, 8), [table[index], ...proof.slice(1)]]
}

/** What a received entry is checked against. */
export interface EntryPolicy {
  /** A listed peer other than this node. */
  isMember: (peerId: string) => boolean
  self: string
  guard: AddressGuard
  /** Latest issue time accepted (now + allowed clock skew). */
  maxTime: number
  /** Tombstones older than this are refused: they were pruned here and must not come back. */
  isPrunable: (e: LedgerEntry) => boolean
  /** The origin's proof of the entry (trust/provenance.ts): last, the most expensive check. */
  verify: (entry: LedgerEntry, proof: EntryProof) => Result<SignedEntry>
}

/**
 * The mesh's rules for one received entry, minus freshness (a permanent ban may be years old): canonical
 * fields, an origin that is a listed peer or this node, never-ban for anything that bans, no issue time
 * beyond the clock-skew allowance, no tombstone old enough to have been pruned, and proof that the origin
 * issued it (whoever relays it: the server is a listed peer, not the origin).
 */
export function validateEntry (item: unknown, policy: EntryPolicy): Result<SignedEntry> {
  if (!Array.isArray(item) || item.length !== 9) return fail(RejectReason.badShape, 'entry must be a 9-element array')
  const [action, name, protocol, port, ip, time, duration, origin, rawProof] = item as unknown[]
  const checked = validateEvent({ action, name, protocol, port, ip, time, duration })
  if (!checked.valid) return checked
  if (typeof origin !== 'string' || origin.length > MAX_ORIGIN_LENGTH || (origin !== policy.self && !policy.isMember(origin))) {
    return fail(RejectReason.badShape, `origin ${JSON.stringify(String(origin).slice(0, 64))} is not a listed peer`)
  }
  const entry: LedgerEntry = { ...checked.value, origin }
  if (entry.time > policy.maxTime) return fail(RejectReason.badTime, 'issue time beyond the allowed clock skew')
  if (!actionFamily(entry.action).removes) {
    const allowed = policy.guard.check(entry.ip)
    if (!allowed.valid) return allowed
  }
  if (policy.isPrunable(entry)) return fail(RejectReason.badTime, 'tombstone older than the retention')
  const proof = parseProof(rawProof)
  if (!proof.valid) return proof
  return policy.verify(entry, proof.value)
}
