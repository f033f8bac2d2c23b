import { Writable } from 'node:stream'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { logPeerChanges } from '../src/mesh/peer-log.js'
import type { Membership } from '../src/trust/membership.js'

/** logPeerChanges on a bare event target (libp2p's peer:connect / peer:disconnect), with a captured log. */
async function watch () {
  const lines: Array<{ level: number, msg: string, entry?: string, upS?: number | null }> = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const peer: PeerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const host = new EventTarget()
  const membership = { list: () => [{ peerId: peer.toString(), entry: { text: 'fw2.example.org' } }] } as unknown as Membership
  const stop = logPeerChanges(host as never, () => membership, pino({ level: 'info' }, stream), 1500)
  const emit = (type: 'peer:connect' | 'peer:disconnect') => host.dispatchEvent(new CustomEvent(type, { detail: peer }))
  return { lines, stop, connect: () => emit('peer:connect'), disconnect: () => emit('peer:disconnect') }
}

describe('peer up/down lines', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('logs one "peer up" for a peer whose connections flap while the fleet pins itself', async () => {
    const w = await watch()
    w.connect()
    for (let i = 0; i < 20; i++) {
      w.disconnect()
      vi.advanceTimersByTime(100)
      w.connect()
    }
    vi.advanceTimersByTime(10_000)
    expect(w.lines.map(l => l.msg)).toEqual(['peer up'])
    expect(w.lines[0]).toMatchObject({ level: 30, entry: 'fw2.example.org' })
    w.stop()
  })

  it('logs "peer down" once the peer stayed away for the settle time, then "peer up" when it is back', async () => {
    const w = await watch()
    w.connect()
    vi.advanceTimersByTime(61_000)
    w.disconnect()
    vi.advanceTimersByTime(1499)
    expect(w.lines.map(l => l.msg)).toEqual(['peer up'])
    vi.advanceTimersByTime(1)
    expect(w.lines.map(l => l.msg)).toEqual(['peer up', 'peer down'])
    expect(w.lines[1]).toMatchObject({ level: 30, entry: 'fw2.example.org', upS: 61 })
    w.connect()
    expect(w.lines.map(l => l.msg)).toEqual(['peer up', 'peer down', 'peer up'])
    w.stop()
  })

  it('drops a pending "peer down" when stopped', async () => {
    const w = await watch()
    w.connect()
    w.disconnect()
    w.stop()
    vi.advanceTimersByTime(10_000)
    expect(w.lines.map(l => l.msg)).toEqual(['peer up'])
  })
})
