import { expiryTombstone, type LedgerEntry, tombstoneProof } from '@fst/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { Provenance } from '../src/trust/provenance.js'

const keys = await Promise.all([0, 1].map(() => generateKeyPair('Ed25519')))
const [A, B] = keys.map(k => peerIdFromPrivateKey(k).toString()) as [string, string]
const signerA = new Provenance(keys[0]!, A)

const entry = (i: number, over: Partial<LedgerEntry> = {}): LedgerEntry =>
  ({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: `203.0.113.${i}`, time: 1_764_086_400_000, duration: 600, origin: A, ...over })

describe('Provenance (signed batch root, per-entry inclusion path)', () => {
  it('verifies every entry of a batch of any size, with one Ed25519 verification per batch', () => {
    for (const n of [1, 2, 3, 7, 64, 2000]) {
      const batch = Array.from({ length: n }, (_, i) => entry(i % 250, { name: `j${i}` }))
      const { proofs } = signerA.signBatch(batch)
      const verifier = new Provenance(keys[1]!, B)
      for (let i = 0; i < n; i++) expect(verifier.verifyEntry(batch[i]!, proofs[i]!).valid).toBe(true)
      expect(verifier.verifications).toBe(1)
    }
  })

  it('refuses a changed field, another claimed origin, a foreign signature and a bent path, with a reason', () => {
    const batch = [entry(1), entry(2), entry(3)]
    const { proofs } = signerA.signBatch(batch)
    const verifier = new Provenance(keys[1]!, B)
    const reason = (e: LedgerEntry, p = proofs[0]!) => { const r = verifier.verifyEntry(e, p); return r.valid ? 'valid' : r.reason }
    expect(reason(batch[0]!)).toBe('valid')
    expect(reason({ ...batch[0]!, duration: 0 })).toBe('bad_signature')
    expect(reason({ ...batch[0]!, ip: '203.0.113.99' })).toBe('bad_signature')
    // the relay's trick: an entry naming B as origin under A's root
    expect(reason({ ...batch[0]!, origin: B })).toBe('bad_signature')
    // B signs its own batch of an entry that claims A
    const forged = new Provenance(keys[1]!, B).signBatch([entry(1)])
    expect(reason(batch[0]!, forged.proofs[0]!)).toBe('bad_signature')
    expect(reason(batch[0]!, { ...proofs[0]!, p: proofs[1]!.p })).not.toBe('valid')
    expect(reason(batch[0]!, { ...proofs[0]!, i: 1 })).not.toBe('valid')
    expect(reason(batch[0]!, { ...proofs[0]!, p: '' })).toBe('bad_proof')
    expect(reason({ ...batch[0]!, origin: 'not-a-peer-id' })).toBe('bad_signature')
  })

  it('proves an expiry tombstone with its ban\'s proof, and nothing else with it', () => {
    const ban = entry(5)
    const { proofs } = signerA.signBatch([entry(4), ban])
    const tomb = expiryTombstone(ban)
    const proof = tombstoneProof(ban, proofs[1]!)
    const verifier = new Provenance(keys[1]!, B)
    expect(verifier.verifyEntry(tomb, proof).valid).toBe(true)
    const bad = (e: LedgerEntry, p = proof) => { const r = verifier.verifyEntry(e, p); return r.valid ? 'valid' : r.reason }
    // a tombstone at another time, or a "tombstone" that bans, does not derive from the ban
    expect(bad({ ...tomb, time: tomb.time + 1 })).toBe('bad_proof')
    expect(bad({ ...tomb, action: 'ban' })).toBe('bad_proof')
    expect(bad(tomb, { ...proof, bd: 0 })).toBe('bad_proof')
    // the ban's proof with another ban time leads to another leaf
    expect(bad({ ...tomb, time: tomb.time + 1000 }, { ...proof, bt: ban.time + 1000 })).toBe('bad_signature')
  })
})
