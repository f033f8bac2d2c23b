import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences } from '../utils/defences.js'
import { Mesh } from '../utils/mesh.js'
import { meshWithRogueMember, type Rogue, wireMessage } from '../utils/rogue.js'

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

/** What must be equal on every node once gossip settled: the catch-up root and the counts behind it. */
interface Agreement { root?: string, held?: number, entries: number }

/**
 * Waits, without any restart and with anti-entropy far off, until every node reports the same catch-up root
 * (ledger and held reports), the same number of held reports and of ledger entries; returns the milliseconds
 * since `since`.
 */
async function converged (mesh: Mesh, nodes: number[], expected: { held: number, entries: number }, since = performance.now(), timeout = 15_000): Promise<number> {
  let seen: Agreement[] = []
  await pWaitFor(async () => {
    seen = (await Promise.all(nodes.map(i => mesh.status(i)))).map(s => ({ root: s.ledger.root, held: s.ledger.held, entries: s.ledger.entries }))
    return seen.every(s => s.root !== undefined && s.root === seen[0]!.root && s.held === expected.held && s.entries === expected.entries)
  }, { interval: 100, timeout }).catch(() => {
    throw new Error(`no convergence within ${timeout} ms: ${seen.map((s, i) => `node ${nodes[i]}: held ${s.held} entries ${s.entries} root ${s.root?.slice(0, 12)}`).join('; ')}`)
  })
  return Math.round(performance.now() - since)
}

/**
 * Issue 26 finding 5: an independent client (a listed peer) reports an address, then node 1's own report
 * completes the 2-peer quorum. Every node holds both reports for the window, and later reports too, so the
 * held sets and roots match by gossip alone; catch-up runs only on connect here (`intervalS: 0`), so it cannot
 * be what reconciles them.
 */
describe('quorum: held reports converge by gossip alone when a node\'s own report completes the quorum', () => {
  let mesh: Mesh
  let rogue: Rogue

  beforeAll(async () => {
    ({ mesh, rogue } = await meshWithRogueMember({
      nodes: 3,
      actions: ['ban', 'unban'],
      config: () => ({ quorum: { ban: { peers: 2, windowS: 600 } }, catchup: { intervalS: 0, timeoutS: 30 } })
    }, 2))
    await mesh.waitConnected()
    for (const i of [0, 1]) await rogue.waitSubscriber((await mesh.status(i)).peerId, 20_000)
  })
  afterAll(async () => {
    await rogue?.stop()
    await mesh?.stop()
  })

  it('holds the same reports and ledger on every node, without a restart', async () => {
    const ip = '203.0.113.230'
    expect(await rogue.publish(wireMessage([['ban', 'sshd', 'tcp', '22', ip]]))).toBeGreaterThan(0)
    await converged(mesh, [0, 1, 2], { held: 1, entries: 0 })

    // node 1's own report is the second distinct peer: the ban runs on nodes 0 and 2 (node 1's fail2ban has it)
    let since = performance.now()
    expect((await mesh.hook(1, ['ban', 'nginx', 'tcp', '443', ip])).code).toBe(0)
    const hookMs = Math.round(performance.now() - since)
    const completed = await converged(mesh, [0, 1, 2], { held: 2, entries: 1 }, since)
    for (const i of [0, 2]) expect(await mesh.waitForRuns(i, 1)).toEqual([`ban nginx tcp 443 ${ip}`])
    expect(mesh.runs(1)).toEqual([])

    // a report after the quorum passes at once on every node, and is held on every node as well
    since = performance.now()
    expect((await mesh.hook(2, ['ban', 'apache', 'tcp', '80', ip])).code).toBe(0)
    const after = await converged(mesh, [0, 1, 2], { held: 3, entries: 2 }, since)
    for (const i of [0, 1]) expect((await mesh.waitForRuns(i, i === 0 ? 2 : 1)).at(-1)).toBe(`ban apache tcp 80 ${ip}`)

    // an own ban that completed a quorum ends: its origin announces the tombstone, and every node, the origin
    // too, withdraws the origin's held report (the independent client's report of that address stays held)
    const short = '203.0.113.231'
    expect(await rogue.publish(wireMessage([['ban', 'sshd', 'tcp', '22', short]]))).toBeGreaterThan(0)
    await converged(mesh, [0, 1, 2], { held: 4, entries: 2 })
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', short, '2'])).code).toBe(0)
    await converged(mesh, [0, 1, 2], { held: 5, entries: 3 })
    for (const i of [1, 2]) expect((await mesh.waitForRuns(i, 3, 10_000)).at(-1)).toBe(`unban sshd tcp 22 ${short}`)
    since = performance.now()
    const expired = await converged(mesh, [0, 1, 2], { held: 4, entries: 3 }, since)
    console.log(`quorum-held: roots equal ${completed} ms after the hook that completed the quorum was called (the fst-action call alone: ${hookMs} ms), ${after} ms after a later report's, ${expired} ms after the expiry ran its unban`)
  })
})
