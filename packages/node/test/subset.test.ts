import type { Connection } from '@libp2p/interface'
import pino from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PeerSubset } from '../src/mesh/subset.js'
import type { Member, Membership } from '../src/trust/membership.js'

/** A fleet of `n` other members, all pinned as `p<i>`, and a fake host holding connections to some of them. */
function fleet (n: number, maxPeers: number) {
  const members: Member[] = Array.from({ length: n }, (_, i) => ({ entry: { text: `m${i}`, host: '127.0.0.1', port: 1000 + i }, addresses: ['127.0.0.1'], peerId: `p${i}`, self: false }))
  const membership = { others: () => members, unpinned: () => members.filter(m => m.peerId === undefined), isMember: (id: string) => members.some(m => m.peerId === id) } as unknown as Membership
  const open = new Set<string>()
  /** Connections closing gracefully: each is gone once its close is released. */
  const closing = new Map<string, () => void>()
  const connection = (id: string) => ({
    remotePeer: { toString: () => id },
    status: closing.has(id) ? 'closing' : 'open',
    direction: 'outbound',
    timeline: { open: 0 },
    close: () => new Promise<void>(resolve => closing.set(id, () => { closing.delete(id); open.delete(id); resolve() })),
    abort: () => {}
  }) as unknown as Connection
  const host = {
    getConnections: () => [...open].map(connection),
    addEventListener: () => {}
  }
  const dialed: string[] = []
  const subset = new PeerSubset({
    host, membership, maxPeers, rotateMs: 0, minMs: 10, maxMs: 100, log: pino({ level: 'silent' }),
    connect: async m => { dialed.push(m.peerId!); open.add(m.peerId!); return true }
  })
  return { subset, host, open, closing, dialed, members }
}

describe('PeerSubset', () => {
  it('admits every member of a fleet no larger than the bound', () => {
    const { subset, open } = fleet(6, 6)
    for (let i = 0; i < 6; i++) open.add(`p${i}`)
    expect(subset.partial()).toBe(false)
    expect(subset.inbound('p5')).toBe(true)
  })

  it('refuses members past the bound, counting admissions not yet open, but never a second connection to a connected peer', () => {
    const { subset, open } = fleet(30, 6)
    expect(subset.partial()).toBe(true)
    for (let i = 0; i < 4; i++) open.add(`p${i}`)
    expect(subset.inbound('p10')).toBe(true)
    expect(subset.outbound(undefined, 'p11')).toBe(true)
    // two admitted, not open yet: the bound of 6 is reached
    expect(subset.inbound('p12')).toBe(false)
    expect(subset.inbound('p0')).toBe(true)
  })

  it('counts a connection that is still closing against the bound', () => {
    const { subset, open, host } = fleet(30, 6)
    for (let i = 0; i < 6; i++) open.add(`p${i}`)
    void host.getConnections()[0]!.close()
    expect(subset.connectedMembers().size).toBe(5)
    expect(subset.inbound('p20')).toBe(false)
  })

  it('rotates by dialing the replacement only once the rotated-out connection has closed', async () => {
    const { subset, open, closing, dialed } = fleet(30, 6)
    for (let i = 0; i < 6; i++) open.add(`p${i}`)
    subset.start()
    expect(dialed).toHaveLength(0)
    subset.rotate()
    expect(closing.size).toBe(1)
    expect(dialed).toHaveLength(0)
    for (const release of closing.values()) release()
    await new Promise(resolve => setImmediate(resolve))
    expect(dialed).toHaveLength(1)
    expect(open.size).toBe(6)
    subset.stop()
  })

  it('dials up to two thirds of the bound, at most four at a time', async () => {
    const { subset, open, dialed } = fleet(30, 9)
    expect(subset.target).toBe(6)
    subset.start()
    expect(dialed).toHaveLength(4)
    // each success fills again, up to the target
    await new Promise(resolve => setImmediate(resolve))
    expect(open.size).toBe(6)
    subset.stop()
  })
})

/** `n` other members, none pinned; a probe of a reachable one pins it, any other fails at once (no route, no DNS). */
function unpinnedFleet (n: number, reachable: (i: number) => boolean) {
  const members: Member[] = Array.from({ length: n }, (_, i) => ({ entry: { text: `m${i}`, host: `peer${i}.invalid`, port: 4242 }, addresses: [], self: false }))
  const membership = { others: () => members, unpinned: () => members.filter(m => m.peerId === undefined), isMember: () => false } as unknown as Membership
  const host = { getConnections: () => [], addEventListener: () => {} }
  let probes = 0
  const subset = new PeerSubset({
    host, membership, maxPeers: 30, rotateMs: 0, minMs: 500, maxMs: 30_000, log: pino({ level: 'silent' }),
    connect: async m => {
      probes++
      const i = members.indexOf(m)
      if (reachable(i)) m.peerId = `p${i}`
      return false
    }
  })
  return { subset, members, probes: () => probes }
}

describe('PeerSubset with a large peers file', () => {
  afterEach(() => { vi.useRealTimers() })

  it('paces its dials: 10,000 entries that fail at once cost some 13 dials a second, not a busy loop', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] })
    const { subset, probes } = unpinnedFleet(10_000, () => false)
    subset.start()
    await vi.advanceTimersByTimeAsync(10_000)
    subset.stop()
    // probes at ten a second, and the subset's own dials (four a tick, four per backed-off refill): 40,000 before
    expect(probes()).toBeGreaterThanOrEqual(100)
    expect(probes()).toBeLessThanOrEqual(160)
  })

  it('still pins reachable entries among unreachable ones, at that pace', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] })
    const { subset, members } = unpinnedFleet(1000, i => i % 25 === 0)
    subset.start()
    // 40 reachable of 1000: the entry probed longest ago goes first, so at ten a second every entry has
    // been tried once within some 100 s
    await vi.advanceTimersByTimeAsync(120_000)
    subset.stop()
    expect(members.filter(m => m.peerId !== undefined)).toHaveLength(40)
  })
})
