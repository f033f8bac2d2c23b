import { loadConfig, loadOrCreateIdentity } from '@fst/node'
import type { LedgerEntry } from '@fst/protocol'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences, total } from '../utils/defences.js'
import type { Mesh } from '../utils/mesh.js'
import { meshWithRogueMember, type Rogue } from '../utils/rogue.js'
import { serveForgedCatchup, signedPages } from '../utils/rogue-catchup.js'

const ISSUED = Date.now() - 1000
const ban = (ip: string, origin: string, name = 'sshd'): LedgerEntry =>
  ({ action: 'ban', name, protocol: 'tcp', port: '22', ip, time: ISSUED, duration: 0, origin })
/** Received entries a node refused, all reasons (a forged origin is `bad_signature`, or `bad_shape` while unpinned). */
const refusedEntries = async (mesh: Mesh, i: number) => total((await defences(mesh, i)).entries ?? {})

/**
 * Issue 19 acceptance, provenance: a listed peer whose key the attacker holds serves, by catch-up, a ban of one
 * address claiming two origins, itself and an honest node, to nodes that need 2 distinct reporters. The honest
 * node's "report" carries a root signed by the rogue, not by its claimed origin: refused (bad_signature) and
 * counted on every node, so the quorum sees one reporter and nothing runs. `block` has no rule and is the barrier.
 */
describe('provenance: entries relayed by catch-up must carry their origin\'s signature', () => {
  let mesh: Mesh
  let rogue: Rogue
  let honest: string

  beforeAll(async () => {
    ({ mesh, rogue } = await meshWithRogueMember({
      nodes: 3,
      actions: ['ban', 'unban', 'block'],
      config: () => ({ quorum: { ban: { peers: 2, windowS: 600 } } })
    }, 0, async (m, r) => {
      // node 0's identity exists before it starts (as `fst start` would create it), so the forgery can name it
      // from the first pull; `fst id` only reads a key, it never creates one
      honest = peerIdFromPrivateKey(await loadOrCreateIdentity(loadConfig(m.nodes[0]!.configFile).stateDir)).toString()
      await serveForgedCatchup(r, () => signedPages(r.key, [ban('203.0.113.190', r.peerId), ban('203.0.113.190', honest, 'nginx')]))
    }))
  })
  afterAll(async () => {
    if (process.env.FST_TEST_DEBUG !== undefined) for (const n of mesh?.nodes ?? []) console.log(JSON.stringify(await mesh.status(n.index)), n.log().split('\n').filter(l => l.includes('"level":5') || l.includes('"level":4')).slice(-6).join('\n'))
    await rogue?.stop()
    await mesh?.stop()
  })

  it('refuses the forged origin on every node and counts it; the one genuine report is held, nothing runs', async () => {
    expect(honest).toBe((await mesh.status(0)).peerId)
    // every node pulled from the rogue on connect: the forged report is refused and counted on each (a node
    // that had not pinned node 0's ID yet refuses it as from an unlisted origin; once pinned, as a bad signature)
    for (const i of [1, 2]) {
      await pWaitFor(async () => await refusedEntries(mesh, i) >= 1, { interval: 100, timeout: 30_000 })
      // the rogue's own report is genuine: held, waiting for a second reporter that never comes
      await pWaitFor(async () => (await mesh.status(i)).ledger.held === 1, { interval: 100, timeout: 10_000 })
    }
    // node 0 refuses it too: it names node 0 as origin, and node 0 did not sign it
    await pWaitFor(async () => await refusedEntries(mesh, 0) >= 1, { interval: 100, timeout: 30_000 })
    // once gossip and catch-up settled, every node holds the same (one) report: equal catch-up roots
    await pWaitFor(async () => new Set(await Promise.all([0, 1, 2].map(async i => (await mesh.status(i)).ledger.root))).size === 1, { interval: 200, timeout: 30_000 })

    // barrier: a ban without a quorum rule from another node runs; by then the forged report was processed
    expect((await mesh.hook(1, ['block', 'web', 'tcp', '80', '203.0.113.191'])).code).toBe(0)
    for (const i of [0, 2]) expect(await mesh.waitForRuns(i, 1, 20_000)).toEqual(['block web tcp 80 203.0.113.191'])
    for (const i of [0, 1, 2]) expect(mesh.runs(i).filter(l => l.startsWith('ban'))).toEqual([])
    for (const i of [0, 1, 2]) expect((await defences(mesh, i)).held.ban).toBe(1)
  })
})
