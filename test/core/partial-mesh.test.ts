import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import pWaitFor from 'p-wait-for'
import { ask } from '@fst/cli'
import { Mesh, type NodeStatus } from '../utils/mesh.js'

/**
 * Eighteen nodes, each allowed 6 connections (connectivity.maxPeers): a partially connected fleet. Every
 * node keeps between 4 (two thirds of the bound, what it dials itself) and 6 connections, rotates one every
 * few seconds, learns every member's key by a pin-only probe (sync-peers.txt pins none), and still gets
 * every ban through the mesh; a node that was down converges through catch-up with the peers it happens
 * to connect to.
 */
describe('a partially connected fleet (18 nodes, at most 6 connections each)', () => {
  const NODES = 18
  const MAX_PEERS = 6
  let mesh: Mesh
  /** Most distinct peers (open or still closing) any node was connected to in any sample of this test. */
  let mostPeers = 0

  const statuses = () => Promise.all(mesh.nodes.filter(n => n.process !== null).map(n => mesh.status(n.index)))
  const sample = async (): Promise<NodeStatus[]> => {
    const all = await statuses()
    mostPeers = Math.max(mostPeers, ...all.map(s => s.peers.length))
    return all
  }
  const pinned = async (index: number) => {
    const answer = await ask(mesh.socket(index), { op: 'peers' })
    const peers = (answer as unknown as { peers: Array<{ self: boolean, peerId: string | null }> }).peers
    return peers.filter(p => !p.self && p.peerId !== null).length
  }

  beforeAll(async () => {
    mesh = await Mesh.create({
      nodes: NODES,
      start: false,
      config: () => ({ logLevel: 'warn', connectivity: { maxPeers: MAX_PEERS, rotateS: 4 } })
    })
    await Promise.all(mesh.nodes.map(n => mesh.startNode(n.index)))
    // every node holds at least the 4 it dials itself, and has pinned every member (probes)
    await pWaitFor(async () => (await sample()).every(s => s.peers.length >= 4), { interval: 250, timeout: 120_000 })
    await pWaitFor(async () => (await Promise.all(mesh.nodes.map(n => pinned(n.index)))).every(c => c === NODES - 1), { interval: 250, timeout: 120_000 })
  }, 300_000)
  afterAll(async () => { await mesh?.stop() })
  beforeEach(() => { mostPeers = 0 })

  it('keeps every node within the bound while the subsets rotate', async () => {
    // a few rotations' worth of samples (rotateS 4): the bound holds throughout, and nobody ends alone
    const started = Date.now()
    await pWaitFor(async () => { await sample(); return Date.now() - started > 10_000 }, { interval: 200, timeout: 60_000 })
    expect(mostPeers).toBeLessThanOrEqual(MAX_PEERS)
    const all = await sample()
    for (const s of all) {
      expect(s.peers.length).toBeGreaterThanOrEqual(1)
      expect(s.peers.length).toBeLessThan(NODES - 1)
    }
  }, 120_000)

  it('delivers bans from several origins to every node', async () => {
    const origins = [0, 7, 13]
    for (const [k, origin] of origins.entries()) {
      expect((await mesh.hook(origin, ['ban', 'sshd', 'tcp', '22', `203.0.113.${k + 1}`])).code).toBe(0)
    }
    for (const node of mesh.nodes) {
      const expected = origins.filter(o => o !== node.index).length
      const runs = await mesh.waitForRuns(node.index, expected, 60_000)
      expect(new Set(runs).size).toBe(expected)
    }
    await sample()
    expect(mostPeers).toBeLessThanOrEqual(MAX_PEERS)
  }, 180_000)

  it('brings a node that was down up to date through catch-up with its subset', async () => {
    const late = NODES - 1
    await mesh.stopNode(late)
    const before = (await mesh.status(0)).ledger.entries
    // published while it is away: gossip cannot reach it, only a catch-up pull after it returns
    for (let k = 0; k < 5; k++) expect((await mesh.hook(k, ['ban', 'sshd', 'tcp', '22', `198.51.100.${k + 1}`])).code).toBe(0)
    for (const node of mesh.nodes.slice(0, 5)) expect(await mesh.waitForLedger(node.index, before + 5, 60_000)).toBe(true)
    await mesh.startNode(late)
    expect(await mesh.waitForLedger(late, before + 5, 90_000)).toBe(true)
    const back = await mesh.status(late)
    expect(back.peers.length).toBeLessThanOrEqual(MAX_PEERS)
    const entries = (await mesh.list(late)).map(e => e.ip)
    for (let k = 0; k < 5; k++) expect(entries).toContain(`198.51.100.${k + 1}`)
    await sample()
    expect(mostPeers).toBeLessThanOrEqual(MAX_PEERS)
  }, 240_000)
})
