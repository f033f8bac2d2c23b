import { createHash } from 'node:crypto'
import type { LedgerEntry } from '../ledger.js'

/** Buckets the key space is hashed into; fixed by protocol version 1. */
export const BUCKETS = 1024
/** Bytes of one bucket digest on the wire. */
export const DIGEST_BYTES = 8

/** The fields that make two versions of a key differ, in a fixed order. */
export function entryTuple (e: LedgerEntry): [string, string, string, string, string, number, number, string] {
  return [e.action, e.name, e.protocol, e.port, e.ip, e.time, e.duration, e.origin]
}

/** Bucket of a ledger key: 32-bit FNV-1a of its (ASCII) bytes, modulo BUCKETS. */
export function bucketOf (key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i) & 0xff
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % BUCKETS
}

/** 64-bit hash of one entry version, as two 32-bit halves (SHA-256 of its JSON tuple, first 8 bytes). */
export function entryHash (e: LedgerEntry): [number, number] {
  const h = createHash('sha256').update(JSON.stringify(entryTuple(e))).digest()
  return [h.readUInt32BE(0), h.readUInt32BE(4)]
}

/**
 * A summary of a ledger that two nodes can compare cheaply: per bucket, the XOR of the hashes of the entries
 * whose key falls in it. XOR makes it order-independent and lets it be updated per change in O(1); the root
 * (SHA-256 of all bucket digests) answers "equal?" in one small message.
 */
export class DigestIndex {
  private readonly sums = new Uint32Array(BUCKETS * 2)
  private readonly keys: Array<Set<string>> = Array.from({ length: BUCKETS }, () => new Set())
  /** Bucket and hash of the version each key holds now, so replacing it costs one hash, not three. */
  private readonly held = new Map<string, { bucket: number, hash: [number, number] }>()
  private cachedRoot: string | null = null

  /** Records the version a key holds now, replacing the one it held. */
  set (key: string, entry: LedgerEntry): void {
    const previous = this.held.get(key)
    const bucket = previous?.bucket ?? bucketOf(key)
    if (previous !== undefined) this.xor(bucket, previous.hash)
    const hash = entryHash(entry)
    this.xor(bucket, hash)
    this.keys[bucket]!.add(key)
    this.held.set(key, { bucket, hash })
  }

  /** Forgets a key (pruned). */
  delete (key: string): void {
    const previous = this.held.get(key)
    if (previous === undefined) return
    this.xor(previous.bucket, previous.hash)
    this.keys[previous.bucket]!.delete(key)
    this.held.delete(key)
  }

  private xor (b: number, [hi, lo]: [number, number]): void {
    this.sums[b * 2] = (this.sums[b * 2]! ^ hi) >>> 0
    this.sums[b * 2 + 1] = (this.sums[b * 2 + 1]! ^ lo) >>> 0
    this.cachedRoot = null
  }

  /** Every bucket digest, big-endian, BUCKETS × DIGEST_BYTES bytes. */
  digests (): Uint8Array {
    const out = Buffer.alloc(BUCKETS * DIGEST_BYTES)
    for (let i = 0; i < BUCKETS * 2; i++) out.writeUInt32BE(this.sums[i]!, i * 4)
    return out
  }

  /** Hex SHA-256 of `digests()`, cached until the next change. */
  root (): string {
    this.cachedRoot ??= createHash('sha256').update(this.digests()).digest('hex')
    return this.cachedRoot
  }

  /** Ledger keys in one bucket. */
  keysIn (bucket: number): ReadonlySet<string> {
    return this.keys[bucket] ?? new Set()
  }
}

/** Buckets whose digests differ between two `digests()` arrays of the same length. */
export function diffBuckets (local: Uint8Array, remote: Uint8Array): number[] {
  const out: number[] = []
  for (let b = 0; b < BUCKETS; b++) {
    const off = b * DIGEST_BYTES
    for (let i = 0; i < DIGEST_BYTES; i++) {
      if (local[off + i] !== remote[off + i]) {
        out.push(b)
        break
      }
    }
  }
  return out
}
