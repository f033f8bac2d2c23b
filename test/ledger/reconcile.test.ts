import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BUCKETS, bucketOf, catchupState, decodeFrame, DigestIndex, diffBuckets, type EntryPolicy, type FrameChannel, HeldReports, Ledger, MAX_ENTRIES_PER_FRAME,
  Provenance, pullCatchup, serveCatchup
} from '@fst/node'
import { addressGuard, expiryTombstone, type FstEvent, type LedgerEntry, ledgerKey, newer, prunable } from '@fst/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'

const A = '12D3KooWAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const B = '12D3KooWBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
const NOW = Date.now()

const dirs: string[] = []
const ledgers: Ledger[] = []
const helds = new Map<Ledger, HeldReports>()
function openLedger (dir = mkdtempSync(join(tmpdir(), 'fst-ledger-'))): Ledger {
  if (!dirs.includes(dir)) dirs.push(dir)
  const ledger = Ledger.open(join(dir, 'ledger'))
  ledgers.push(ledger)
  helds.set(ledger, HeldReports.open(join(dir, 'held')))
  return ledger
}
/** What catch-up serves and compares of a ledger (and its empty held reports). */
const state = (l: Ledger) => catchupState(l, helds.get(l)!)
afterEach(async () => {
  await Promise.all(ledgers.splice(0).map(l => l.close().catch(() => {})))
  await Promise.all([...helds.values()].map(h => h.close().catch(() => {})))
  helds.clear()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function ev (ip: string, over: Partial<FstEvent> = {}): FstEvent {
  return { action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip, time: NOW - 60_000, duration: 0, ...over }
}

/** Two connected in-memory frame channels (no sockets), counting bytes each way. */
function channelPair (): { client: FrameChannel, server: FrameChannel, bytes: { up: number, down: number }, frames: Uint8Array[] } {
  const make = () => ({ queue: [] as Uint8Array[], waiting: [] as Array<(b: Uint8Array) => void> })
  const toServer = make()
  const toClient = make()
  const bytes = { up: 0, down: 0 }
  const frames: Uint8Array[] = []
  const send = (q: ReturnType<typeof make>, b: Uint8Array) => {
    const w = q.waiting.shift()
    if (w !== undefined) w(b)
    else q.queue.push(b)
  }
  const recv = (q: ReturnType<typeof make>) => new Promise<Uint8Array>(resolve => {
    const b = q.queue.shift()
    if (b !== undefined) resolve(b)
    else q.waiting.push(resolve)
  })
  return {
    client: { read: () => recv(toClient), write: async b => { bytes.up += b.byteLength; send(toServer, b) } },
    server: { read: () => recv(toServer), write: async b => { bytes.down += b.byteLength; frames.push(b); send(toClient, b) } },
    bytes,
    frames
  }
}

/** Real keys for the catch-up tests: entries carry their origin's proof (protocol v2). */
const keys = await Promise.all([0, 1, 2].map(() => generateKeyPair('Ed25519')))
const [KA, KB, KS] = keys.map(k => peerIdFromPrivateKey(k).toString()) as [string, string, string]
const signers = new Map(keys.map(k => [peerIdFromPrivateKey(k).toString(), new Provenance(k, peerIdFromPrivateKey(k).toString())]))
const verifier = signers.get(KA)!

/** Applies an event as its origin would: signed (a batch of one). */
function put (l: Ledger, e: FstEvent, origin: string): void {
  l.apply(e, origin, Date.now(), signers.get(origin)!.signBatch([{ ...e, origin }]).proofs[0]!)
}

const policy = (self: string): EntryPolicy => ({
  isMember: id => id === KA || id === KB,
  self,
  guard: addressGuard({ protect: ['192.0.2.0/24'] }),
  maxTime: Date.now() + 60_000,
  isPrunable: e => prunable(e, 3600_000),
  verify: (entry, proof) => verifier.verifyEntry(entry, proof)
})

/** `to` pulls from `from`; returns the pull result and the transfer. */
async function pull (to: Ledger, from: Ledger, self: string) {
  const pair = channelPair()
  const applied: LedgerEntry[] = []
  const [result] = await Promise.all([
    pullCatchup(pair.client, state(to), () => policy(self), entries => {
      const changes = to.applyMany(entries)
      for (const c of changes) applied.push(c.entry)
      return changes.length
    }),
    serveCatchup(pair.server, state(from))
  ])
  return { result, applied, bytes: pair.bytes, frames: pair.frames }
}

function snapshot (l: Ledger): LedgerEntry[] {
  return [...l.values()].sort((x, y) => ledgerKey(x).localeCompare(ledgerKey(y)))
}

describe('bucket digests', () => {
  it('do not depend on insertion order, and deleting an entry restores the previous digest', () => {
    const entries = Array.from({ length: 50 }, (_, i) => ({ ...ev(`203.0.113.${i}`), origin: A }))
    const one = new DigestIndex()
    const two = new DigestIndex()
    for (const e of entries) one.set(ledgerKey(e), e)
    for (const e of [...entries].reverse()) two.set(ledgerKey(e), e)
    expect(one.root()).toBe(two.root())
    const before = one.root()
    const extra = { ...ev('198.51.100.1'), origin: B }
    one.set(ledgerKey(extra), extra)
    expect(one.root()).not.toBe(before)
    one.delete(ledgerKey(extra))
    expect(one.root()).toBe(before)
  })

  it('differ in exactly the bucket of a changed key', () => {
    const one = new DigestIndex()
    const two = new DigestIndex()
    const entries = Array.from({ length: 200 }, (_, i) => ({ ...ev(`203.0.113.${i}`), origin: A }))
    for (const e of entries) { one.set(ledgerKey(e), e); two.set(ledgerKey(e), e) }
    const changed = entries[7]!
    const newer = { ...changed, action: 'unban', time: changed.time + 1 }
    two.set(ledgerKey(newer), newer)
    expect(diffBuckets(one.digests(), two.digests())).toEqual([bucketOf(ledgerKey(changed))])
    expect(one.digests().byteLength).toBe(BUCKETS * 8)
  })
})

describe('ledger convergence and expiry', () => {
  it('ends in the same state whatever order the same events arrive in', () => {
    const event = fc.record({
      action: fc.constantFrom('ban', 'unban'),
      port: fc.constantFrom('22', '80'),
      ip: fc.constantFrom('203.0.113.1', '203.0.113.2', '2001:db8::1'),
      time: fc.integer({ min: NOW - 5000, max: NOW - 4990 }),
      duration: fc.constantFrom(0, 3600),
      origin: fc.constantFrom(A, B)
    })
    fc.assert(fc.property(fc.array(event, { minLength: 1, maxLength: 30 }), fc.infiniteStream(fc.nat()), (events, seeds) => {
      const shuffled = [...events].map(e => ({ e, k: seeds.next().value as number })).sort((x, y) => x.k - y.k).map(x => x.e)
      const state = (list: typeof events) => {
        const m = new Map<string, LedgerEntry>()
        for (const { origin, ...rest } of list) {
          const entry: LedgerEntry = { ...ev(rest.ip), ...rest, origin }
          const prev = m.get(ledgerKey(entry))
          if (prev === undefined || newer(entry, prev)) m.set(ledgerKey(entry), entry)
        }
        return [...m.entries()].sort()
      }
      expect(state(shuffled)).toEqual(state(events))
    }), { numRuns: 200 })
  })

  it('turns an expired ban into the same tombstone on every node, also when it expired while the node was down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fst-ledger-'))
    const first = openLedger(dir)
    const ban = ev('203.0.113.9', { time: Date.now() - 1500, duration: 1 })
    const change = first.apply(ban, A)
    await change?.written
    expect(change?.isActive).toBe(false) // already past its second: stored as the tombstone
    expect(first.get(ledgerKey(ban))).toEqual(expiryTombstone({ ...ban, origin: A }))

    const live = ev('203.0.113.10', { time: Date.now(), duration: 3600 })
    await first.apply(live, A)?.written
    expect(first.expire(Date.now())).toEqual([])
    const later = Date.now() + 3601_000
    const expired = first.expire(later)
    expect(expired.map(x => x.tombstone)).toEqual([expiryTombstone({ ...live, origin: A })])
    expect(first.expire(later)).toEqual([]) // each expiry is reported once

    // a ban that expires while the node is down is reported by the first sweep after opening
    const down = ev('203.0.113.11', { time: Date.now(), duration: 1 })
    await first.apply(down, B)?.written
    await first.close()
    ledgers.splice(ledgers.indexOf(first), 1)
    const reopened = openLedger(dir)
    const swept = reopened.expire(Date.now() + 2000)
    expect(swept.map(x => x.ban.ip)).toEqual(['203.0.113.11'])
    expect(reopened.get(ledgerKey(down))?.action).toBe('unban')
  })
})


describe('catch-up exchange (no sockets)', () => {
  it('reconciles two diverged ledgers both ways and then costs one small exchange', async () => {
    const a = openLedger()
    const b = openLedger()
    for (let i = 0; i < 300; i++) { const e = ev(`203.0.113.${i % 250}`, { name: `j${Math.floor(i / 250)}` }); put(a, e, KA); put(b, e, KA) }
    put(a, ev('198.51.100.1'), KA) // only on a
    put(b, ev('198.51.100.2', { time: NOW - 1000 }), KB) // only on b
    put(b, ev('203.0.113.5', { action: 'unban', time: NOW - 500 }), KB) // b removed a ban a still has
    put(a, ev('203.0.113.6', { action: 'unban', time: NOW - 400 }), KA) // and the other way round
    put(b, ev('203.0.113.6', { time: NOW - 300 }), KB) // ...but b re-banned it later: b's ban wins

    const intoA = await pull(a, b, KA)
    const intoB = await pull(b, a, KB)
    expect(intoA.result.same).toBe(false)
    expect(intoA.applied.map(e => `${e.action} ${e.ip}`).sort()).toEqual(['ban 198.51.100.2', 'ban 203.0.113.6', 'unban 203.0.113.5'])
    expect(intoB.applied.map(e => `${e.action} ${e.ip}`)).toEqual(['ban 198.51.100.1'])
    expect(snapshot(a)).toEqual(snapshot(b))
    expect(state(a).root()).toBe(state(b).root())

    const idle = await pull(a, b, KA)
    expect(idle.result.same).toBe(true)
    expect(idle.bytes.up + idle.bytes.down).toBeLessThan(200)
  })

  it('refuses entries from unlisted origins, protected addresses, future times and pruned tombstones', async () => {
    const a = openLedger()
    const b = openLedger()
    put(b, ev('203.0.113.1'), KS)
    put(b, ev('192.0.2.7'), KB) // protected on a
    put(b, ev('203.0.113.2', { time: Date.now() + 3600_000 }), KB)
    put(b, ev('203.0.113.3', { action: 'unban', time: Date.now() - 2 * 3600_000 }), KB)
    put(b, ev('203.0.113.4', { time: 1 }), KB) // a permanent ban years old is still fine
    put(b, ev('203.0.113.5'), KA) // our own entry, lost here, comes back
    const { result } = await pull(a, b, KA)
    expect(result.refused).toEqual({ bad_shape: 1, protected_address: 1, bad_time: 2 })
    expect(a.active().map(e => e.ip).sort()).toEqual(['203.0.113.4', '203.0.113.5'])
  })

  it('answers a hello it cannot serve with an error frame', async () => {
    const pair = channelPair()
    const served = serveCatchup(pair.server, state(openLedger()))
    await pair.client.write(new TextEncoder().encode(JSON.stringify({ t: 'hello', v: 1, n: 512, root: '0'.repeat(64) })))
    await expect(served).rejects.toMatchObject({ name: 'CatchupError', code: 'bad_shape' })
    expect(decodeFrame(await pair.client.read())).toMatchObject({ valid: true, value: { t: 'error', code: 'bad_shape' } })
  })

  it('pages large transfers under the frame limits', async () => {
    const a = openLedger()
    const b = openLedger()
    for (let i = 0; i < 5000; i++) put(b, ev(`10.${(i >> 8) & 255}.${i & 255}.1`), KB)
    const { result, frames } = await pull(a, b, KA)
    expect(result.received).toBe(5000)
    expect(result.applied).toBe(5000)
    const pages = frames.map(f => JSON.parse(new TextDecoder().decode(f)) as { t: string, e?: unknown[] }).filter(f => f.t === 'entries')
    expect(pages.length).toBeGreaterThanOrEqual(3)
    for (const p of pages) expect(p.e!.length).toBeLessThanOrEqual(MAX_ENTRIES_PER_FRAME)
    expect(state(a).root()).toBe(state(b).root())
  })
})
