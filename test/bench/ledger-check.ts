/**
 * What the start-up check of the ledger file costs (issue 26): the header check, the child-process read of
 * every entry, and for scale the node's own load of the same ledger. Usage: tsx test/bench/ledger-check.ts
 * [count] [runs]. Prints one JSON line (milliseconds; medians of `runs`).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkLmdbHeader, checkStore, Ledger, Provenance } from '@fst/node'
import type { LedgerEntry } from '@fst/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

const COUNT = Number(process.argv[2] ?? 100_000)
const RUNS = Number(process.argv[3] ?? 5)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const dir = mkdtempSync(join(tmpdir(), 'fst-bench-check-'))
try {
  const key = await generateKeyPair('Ed25519')
  const origin = peerIdFromPrivateKey(key).toString()
  const signer = new Provenance(key, origin)
  const path = join(dir, 'ledger')
  const ledger = Ledger.open(path)
  const now = Date.now()
  // signed like gossip batches (2000 per root), so each entry carries a real proof
  for (let i = 0; i < COUNT; i += 2000) {
    const chunk: LedgerEntry[] = []
    for (let j = i; j < Math.min(i + 2000, COUNT); j++) chunk.push({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`, time: now - 1000, duration: 0, origin })
    const { proofs } = signer.signBatch(chunk)
    await Promise.all(ledger.applyMany(chunk.map((e, k) => ({ ...e, proof: proofs[k]! })), now).map(c => c.written))
  }
  await ledger.close()
  const header: number[] = []
  const probe: number[] = []
  const load: number[] = []
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now()
    for (let k = 0; k < 100; k++) checkLmdbHeader(join(path, 'data.mdb'))
    header.push((performance.now() - t) / 100)
    t = performance.now()
    const result = checkStore(path)
    probe.push(performance.now() - t)
    if (result.state !== 'sound' || result.entries !== COUNT) throw new Error(`check said ${JSON.stringify(result)}`)
    t = performance.now()
    const again = await Ledger.load(path)
    load.push(performance.now() - t)
    await again.close()
  }
  console.log(JSON.stringify({
    entries: COUNT,
    fileMb: Math.round(statSync(join(path, 'data.mdb')).size / 1e5) / 10,
    headerMs: Math.round(median(header) * 1000) / 1000,
    checkMs: Math.round(median(probe)),
    checkMsRuns: probe.map(Math.round),
    loadMs: Math.round(median(load)),
    loadMsRuns: load.map(Math.round)
  }))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
