import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences } from '../utils/defences.js'
import { Mesh } from '../utils/mesh.js'

/** Waits until every running node reports the same catch-up root (ledger and held reports alike). */
async function rootsEqual (mesh: Mesh, nodes: number[]): Promise<string> {
  let roots: Array<string | undefined> = []
  await pWaitFor(async () => {
    roots = await Promise.all(nodes.map(async i => (await mesh.status(i)).ledger.root))
    return roots[0] !== undefined && new Set(roots).size === 1
  }, { interval: 200, timeout: 30_000 }).catch(() => { throw new Error(`roots differ: ${roots.join(' ')}`) })
  return roots[0]!
}

/**
 * Held quorum reports are part of the replicated state (issue 19): with `ban` needing 3 distinct peers, two
 * reports are held on every node, stored with their proofs. Once gossip settles all catch-up roots are equal
 * (no bucket is fetched again and again), a node that was down meanwhile gets the held reports by catch-up,
 * a restart keeps them, and the third report completes the quorum on every node.
 */
describe('quorum: held reports converge and survive a restart', () => {
  let mesh: Mesh

  beforeAll(async () => {
    mesh = await Mesh.create({
      nodes: 4,
      actions: ['ban', 'unban', 'block'],
      config: () => ({ quorum: { ban: { peers: 3, windowS: 600 } }, catchup: { intervalS: 2, timeoutS: 30 } })
    })
  })
  afterAll(async () => { await mesh?.stop() })

  it('holds the same reports everywhere, keeps them over a restart, and bans at the third', async () => {
    await mesh.stopNode(3)
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.210'])).code).toBe(0)
    expect((await mesh.hook(1, ['ban', 'nginx', 'tcp', '443', '203.0.113.210'])).code).toBe(0)
    for (const i of [0, 1, 2]) await pWaitFor(async () => (await mesh.status(i)).ledger.held === 2, { interval: 100, timeout: 20_000 })
    const root = await rootsEqual(mesh, [0, 1, 2])

    // node 3 was down: catch-up brings it both reports with their proofs, and the same root
    await mesh.startNode(3)
    await pWaitFor(async () => (await mesh.status(3)).ledger.held === 2, { interval: 100, timeout: 30_000 })
    expect(await rootsEqual(mesh, [0, 1, 2, 3])).toBe(root)
    // counted once per report, not once per pull that saw it
    await pWaitFor(async () => (await mesh.status(2)).peers.length === 3, { interval: 100, timeout: 20_000 })
    expect((await defences(mesh, 2)).held.ban).toBe(2)

    // a restart keeps them (LMDB), and the root
    await mesh.stopNode(2)
    await mesh.startNode(2)
    expect((await mesh.status(2)).ledger.held).toBe(2)
    expect(await rootsEqual(mesh, [0, 1, 2, 3])).toBe(root)
    expect((await defences(mesh, 2)).held.ban ?? 0).toBe(0)

    // the third distinct reporter: the ban runs on every node but its reporter (runOwnEvents is off)
    expect((await mesh.hook(2, ['ban', 'sshd', 'tcp', '22', '203.0.113.210'])).code).toBe(0)
    for (const i of [0, 1, 3]) expect((await mesh.waitForRuns(i, 1, 20_000)).at(-1)).toBe('ban sshd tcp 22 203.0.113.210')
    await rootsEqual(mesh, [0, 1, 2, 3])
  })
})
