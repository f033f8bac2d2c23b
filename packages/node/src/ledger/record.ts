import type { EntryProof, LedgerEntry } from '@fst/protocol'

/** An entry as the ledger hands it out: with its origin's proof (protocol v2), absent only for a v1 ledger's entries. */
export type StoredEntry = LedgerEntry & { proof?: EntryProof }

/** A proof with its signature and inclusion path as bytes: the wire's base64 takes a third more room. */
interface PackedProof extends Omit<EntryProof, 's' | 'p'> {
  s: Uint8Array
  p: Uint8Array
}

/** An entry as LMDB keeps it. Records written before 0.2.0 hold the proof's base64 strings, and still read. */
export type LedgerRecord = LedgerEntry & { proof?: EntryProof | PackedProof }

/**
 * The record of an entry: signature and path as bytes, ~85 bytes less (with the field names kept once per store,
 * 497 → 347 bytes for an entry of a full batch). A string that would not come back the same from its bytes
 * (base64 that is not canonical) is kept as it is.
 */
export function toRecord (e: StoredEntry): LedgerRecord {
  if (e.proof === undefined) return e
  const s = packed(e.proof.s)
  const p = packed(e.proof.p)
  if (s === null || p === null) return e
  return { ...e, proof: { ...e.proof, s, p } }
}

/** The entry a record holds, its proof as the wire carries it. */
export function fromRecord (r: LedgerRecord): StoredEntry {
  const proof = r.proof
  if (proof === undefined || typeof proof.s === 'string') return r as StoredEntry
  return { ...r, proof: { ...proof, s: base64(proof.s), p: base64(proof.p as Uint8Array) } }
}

function packed (b64: string): Buffer | null {
  const bytes = Buffer.from(b64, 'base64')
  return bytes.toString('base64') === b64 ? bytes : null
}

function base64 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}
