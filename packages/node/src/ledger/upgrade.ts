import type { EntryProof, LedgerEntry } from '@fst/protocol'
import type { Ledger } from './store.js'

/** Entries signed under one root when a v1 ledger is upgraded: a full gossip batch. */
const PER_ROOT = 2000

/**
 * Upgrade from protocol v1: this node's own entries without a proof are signed now, PER_ROOT under one root,
 * so catch-up can serve them. Other origins' entries get theirs when a peer serves the same version (their
 * origin, once upgraded). Returns how many were signed.
 */
export async function signOwnEntries (ledger: Ledger, self: string, sign: (entries: LedgerEntry[]) => EntryProof[]): Promise<number> {
  const keys = [...ledger.unproven].filter(k => ledger.get(k)?.origin === self)
  const writes: Array<Promise<unknown>> = []
  for (let i = 0; i < keys.length; i += PER_ROOT) {
    const chunk = keys.slice(i, i + PER_ROOT)
    const proofs = sign(chunk.map(k => ledger.get(k)!))
    for (let j = 0; j < chunk.length; j++) writes.push(ledger.addProof(chunk[j]!, proofs[j]!))
  }
  await Promise.all(writes)
  return keys.length
}
