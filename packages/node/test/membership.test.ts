import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { LogThrottle } from '../src/metrics/log-throttle.js'
import { type InboundRefusal, Membership } from '../src/trust/membership.js'
import { PinStore } from '../src/trust/pins.js'

const root = mkdtempSync(join(tmpdir(), 'fst-membership-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const newPeerId = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

/** A real Membership and its gater, with a captured log, a clock the test moves and a count per refusal reason. */
async function gate (peersFile: (listed: PeerId) => string[]) {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const log = pino({ level: 'info' }, stream)
  let now = 1_000_000
  const counts: Partial<Record<InboundRefusal, number>> = {}
  const listed = await newPeerId()
  const membership = new Membership((await newPeerId()).toString(), new PinStore(mkdtempSync(join(root, 'state-'))), log, {
    throttle: new LogThrottle(log, 10, 10_000, () => now),
    onRefused: reason => { counts[reason] = (counts[reason] ?? 0) + 1 }
  })
  await membership.load(peersFile(listed).map((text, i) => {
    const [id, host] = text.includes('@') ? text.split('@') : [undefined, text]
    return { text, host: host!, port: 4000 + i, ...(id === undefined ? {} : { peerId: id }) }
  }), [])
  let knocks = 0
  const gater = membership.gater(() => { knocks++ })
  const conn = { remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/50000') } as unknown as MultiaddrConnection
  return {
    lines,
    counts,
    listed,
    knocks: () => knocks,
    advance: (ms: number) => { now += ms },
    inbound: async (peerId: PeerId) => gater.denyInboundEncryptedConnection!(peerId, conn),
    withMessage: (text: string) => lines.filter(l => String(l.msg).startsWith(text))
  }
}

describe('Membership gater: refused inbound connections are counted by reason and logged throttled', () => {
  it('logs a handshake flood from an unlisted key at most 10 lines per 10 s, then one summary', async () => {
    const g = await gate(listed => [`${listed.toString()}@127.0.0.1`])
    const outsiders = await Promise.all([newPeerId(), newPeerId(), newPeerId()])
    for (let i = 0; i < 1000; i++) expect(await g.inbound(outsiders[i % 3]!)).toBe(true)
    expect(g.withMessage('refused inbound connection from unlisted peer')).toHaveLength(10)
    expect(g.counts.unlisted_peer).toBe(1000)

    g.advance(10_000)
    expect(await g.inbound(outsiders[0]!)).toBe(true)
    expect(g.withMessage('similar warnings suppressed')).toMatchObject([{ level: 40, reason: 'unlisted_peer', suppressed: 990 }])
    expect(g.withMessage('refused inbound connection from unlisted peer')).toHaveLength(11)
    expect(g.counts.unlisted_peer).toBe(1001)
    // the listed key is still admitted, and uncounted
    expect(await g.inbound(g.listed)).toBe(false)
    expect(g.counts.unlisted_peer).toBe(1001)
  })

  it('logs one line for inbound connections while entries are not pinned yet (the rest at debug), and still asks to dial them', async () => {
    const g = await gate(() => ['127.0.0.1'])
    const stranger = await newPeerId()
    for (let i = 0; i < 500; i++) expect(await g.inbound(stranger)).toBe(true)
    // a fleet's first start: nothing to act on, so one line, not one per knock
    expect(g.withMessage('refused inbound connection from a peer not pinned yet')).toMatchObject([{ level: 30, unpinned: ['127.0.0.1'], unpinnedCount: 1 }])
    g.advance(10_000)
    expect(await g.inbound(stranger)).toBe(true)
    expect(g.withMessage('refused inbound connection from a peer not pinned yet')).toHaveLength(1)
    expect(g.withMessage('similar')).toEqual([])
    expect(g.counts.unpinned_peer).toBe(501)
    expect(g.counts.unlisted_peer).toBeUndefined()
    // the dialer bounds these itself (at most once a second, Dialer.dialUnpinned)
    expect(g.knocks()).toBe(501)
  })
})
