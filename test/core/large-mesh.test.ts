import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pWaitFor from 'p-wait-for'
import { Mesh } from '../utils/mesh.js'

/**
 * Sixteen nodes on one address: past gossipsub's IP-colocation threshold (10 peers per IP), whose default
 * penalty graylisted every peer and left a published ban undelivered. Members are listed and pinned, so
 * FST switches that penalty off; this mesh must connect fully and deliver to everyone. Started together, its
 * members dial each other at the same moment: they must end with one connection per peer.
 */
describe('sixteen nodes sharing one address', () => {
  const NODES = 16
  let mesh: Mesh

  beforeAll(async () => { mesh = await Mesh.create({ nodes: NODES, config: () => ({ logLevel: 'warn' }) }) })
  afterAll(async () => { await mesh?.stop() })

  it('knows every peer as subscribed, scores none below zero, and delivers a ban to all', async () => {
    const statuses = await Promise.all(mesh.nodes.map(n => mesh.status(n.index)))
    for (const s of statuses) expect(s.meshPeers).toHaveLength(NODES - 1)
    // the nodes started together and dialed each other at once; each keeps one connection per peer
    const connections = async () => (await Promise.all(mesh.nodes.map(n => mesh.status(n.index)))).map(s => s.connections)
    await pWaitFor(async () => (await connections()).every(c => c === NODES - 1), { interval: 100, timeout: 20_000 }).catch(() => {})
    expect(await connections()).toEqual(mesh.nodes.map(() => NODES - 1))
    const peers = JSON.parse((await mesh.fst(0, ['peers', '--json'])).stdout) as Array<{ self: boolean, score: number | null }>
    for (const p of peers.filter(p => !p.self)) expect(p.score).toBeGreaterThanOrEqual(0)
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.16'])).code).toBe(0)
    for (const node of mesh.nodes.slice(1)) {
      expect(await mesh.waitForRuns(node.index, 1, 20_000)).toEqual(['ban sshd tcp 22 203.0.113.16'])
    }
  })
})
