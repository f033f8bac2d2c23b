import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type LedgerEntry, ledgerKey, type SignedEntry } from '@fst/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { open } from 'lmdb'
import { afterAll, describe, expect, it } from 'vitest'
import { SMALL_STORE_MAP_BYTES, storeOptions } from '../src/ledger/store-options.js'
import { Ledger } from '../src/ledger/store.js'
import { Provenance } from '../src/trust/provenance.js'

const key = await generateKeyPair('Ed25519')
const origin = peerIdFromPrivateKey(key).toString()
const signer = new Provenance(key, origin)
const now = Date.now()

const ban = (i: number): LedgerEntry =>
  ({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: `198.18.${i >> 8}.${i & 255}`, time: now - 1000, duration: 600, origin })

/** A signed batch as gossip delivers it: 2,000 entries under one signature, 11 path nodes each. */
function signed (n: number): SignedEntry[] {
  const batch = Array.from({ length: n }, (_, i) => ban(i))
  const { proofs } = signer.signBatch(batch)
  return batch.map((e, i) => ({ ...e, proof: proofs[i]! }))
}

/** Bytes of the record LMDB holds for a key. */
function recordBytes (dir: string, k: string): number {
  const raw = open({ path: dir, encoding: 'binary', ...storeOptions(SMALL_STORE_MAP_BYTES) })
  try {
    return (raw.getBinary(k) as Buffer).length
  } finally {
    void raw.close()
  }
}

/**
 * Issue 25: a ledger record was ~500 bytes (a 100,000-ban ledger's file was 63 MB, all of it resident): its
 * field names written into every record, and the proof's signature and path as base64. The store keeps the
 * names once and the proof as bytes; the wire, catch-up and `stored` still see base64.
 */
describe('ledger records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-ledger-record-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('keeps a record in under 360 bytes, and hands back the same base64', async () => {
    const path = join(dir, 'packed')
    const entries = signed(2000)
    const ledger = Ledger.open(path)
    const changes = ledger.applyMany(entries, now)
    expect(changes).toHaveLength(2000)
    await changes[0]!.written
    await ledger.close()

    const k = ledgerKey(entries[1234]!)
    expect(recordBytes(path, k)).toBeLessThan(360)

    const again = Ledger.open(path)
    for (const e of [entries[0]!, entries[1234]!, entries[1999]!]) expect(again.stored(ledgerKey(e))).toEqual(e)
    expect(again.unproven.size).toBe(0)
    await again.close()
  })

  it('reads records written with base64 proofs (before 0.2.0) as they were, beside new ones', async () => {
    const path = join(dir, 'old')
    const entries = signed(2000).slice(0, 3)
    // as 0.1.0 opened it: no shared structures, the proof as given
    const old = open({ path, compression: false })
    for (const e of entries) await old.put(ledgerKey(e), e)
    await old.close()
    expect(recordBytes(path, ledgerKey(entries[1]!))).toBeGreaterThan(400)

    const ledger = Ledger.open(path)
    for (const e of entries) expect(ledger.stored(ledgerKey(e))).toEqual(e)
    expect(ledger.unproven.size).toBe(0)
    // new records beside the old ones (an upgraded node), read in turns and after a restart
    const next = signed(2000).slice(3, 6).map(e => ({ ...e, name: 'nginx' }))
    const [change] = ledger.applyMany(next, now)
    await change!.written
    for (const e of [...entries, ...next, ...entries]) expect(ledger.stored(ledgerKey(e))).toEqual(e)
    await ledger.close()
    const again = Ledger.open(path)
    expect(again.size).toBe(6)
    for (const e of [...next, ...entries, ...next]) expect(again.stored(ledgerKey(e))).toEqual(e)
    await again.close()
  })
})
