/**
 * Catch-up of N entries between two ledgers in one process, no sockets: where a pull's time goes (serve,
 * verify, apply). Usage: tsx test/bench/catchup-inproc.ts [count]. Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { catchupState, type FrameChannel, HeldReports, Ledger, Provenance, pullCatchup, serveCatchup } from '@fst/node'
import { addressGuard, type LedgerEntry } from '@fst/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

const COUNT = Number(process.argv[2] ?? 100_000)
const dir = mkdtempSync(join(tmpdir(), 'fst-bench-inproc-'))
try {
  const key = await generateKeyPair('Ed25519')
  const origin = peerIdFromPrivateKey(key).toString()
  const signer = new Provenance(key, origin)
  const open = (name: string) => {
    const ledger = Ledger.open(join(dir, name, 'ledger'))
    return { ledger, held: HeldReports.open(join(dir, name, 'held')) }
  }
  const a = open('a')
  const b = open('b')
  const now = Date.now()
  const entries: LedgerEntry[] = []
  for (let i = 0; i < COUNT; i++) entries.push({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, time: now - 1000, duration: 0, origin })
  let t = performance.now()
  for (let i = 0; i < COUNT; i += 2000) {
    const chunk = entries.slice(i, i + 2000)
    const { proofs } = signer.signBatch(chunk)
    a.ledger.applyMany(chunk.map((e, j) => ({ ...e, proof: proofs[j]! })), now)
  }
  const signMs = performance.now() - t
  await new Promise(r => setTimeout(r, 500))
  const verifier = new Provenance(await generateKeyPair('Ed25519'), 'other')
  const pair = channels()
  t = performance.now()
  const cpu0 = process.cpuUsage()
  let verifyMs = 0
  const [result] = await Promise.all([
    pullCatchup(pair.client, catchupState(b.ledger, b.held), () => ({
      isMember: () => true,
      self: 'other',
      guard: addressGuard({ protect: [] }),
      maxTime: Date.now() + 60_000,
      isPrunable: () => false,
      verify: (entry, proof) => {
        const v0 = performance.now()
        const r = verifier.verifyEntry(entry, proof)
        verifyMs += performance.now() - v0
        return r
      }
    }), list => b.ledger.applyMany(list).length),
    serveCatchup(pair.server, catchupState(a.ledger, a.held))
  ])
  const pullMs = performance.now() - t
  const cpu = process.cpuUsage(cpu0)
  // CPU time is what a loaded machine distorts least: wall time here includes other processes' turns
  const pullCpuMs = Math.round((cpu.user + cpu.system) / 1000)
  console.log(JSON.stringify({ count: COUNT, signMs: Math.round(signMs), pullMs: Math.round(pullMs), pullCpuMs, verifyMs: Math.round(verifyMs), ed25519Verifications: verifier.verifications, applied: result.applied, bytes: pair.bytes }))
  await Promise.all([a.ledger.close(), b.ledger.close(), a.held.close(), b.held.close()])
} finally {
  rmSync(dir, { recursive: true, force: true })
}

function channels (): { client: FrameChannel, server: FrameChannel, bytes: { down: number } } {
  const make = () => ({ queue: [] as Uint8Array[], waiting: [] as Array<(b: Uint8Array) => void> })
  const up = make()
  const down = make()
  const bytes = { down: 0 }
  const send = (q: ReturnType<typeof make>, b: Uint8Array) => { const w = q.waiting.shift(); if (w) w(b); else q.queue.push(b) }
  const recv = (q: ReturnType<typeof make>) => new Promise<Uint8Array>(resolve => { const b = q.queue.shift(); if (b) resolve(b); else q.waiting.push(resolve) })
  return {
    client: { read: () => recv(down), write: async b => { send(up, b) } },
    server: { read: () => recv(up), write: async b => { bytes.down += b.byteLength; send(down, b) } },
    bytes
  }
}
