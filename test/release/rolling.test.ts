import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BuiltRelease, buildRelease } from '../utils/releases.js'
import { type ListedEntry, Mesh, type NodeStatus, ROOT, runBin } from '../utils/mesh.js'

/** The release before this one (N-1): what a fleet in a rolling upgrade still runs beside the current build. */
const PREVIOUS = '0.1.0'
const CURRENT = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version
/** Nodes 0 and 1 run this checkout's build, node 2 the previous release. */
const OLD = 2
const NEW = [0, 1]

/**
 * Issue 24 item 2, rolling upgrades: docs/protocol.md §7 promises that a node of release N interoperates with
 * N-1 on gossip and catch-up. The previous release is built from its commit (CHANGELOG.md) in a git worktree
 * (cached between runs, test/utils/releases.ts) and one of its nodes joins two of the current build's on
 * loopback: bans cross both ways and run the scripts, a node of either release that was down catches up from
 * the others, every ledger ends with the same catch-up root, and no node counts a rejected message or a
 * refused entry.
 */
describe(`a mesh of release ${PREVIOUS} and the current build (${CURRENT})`, () => {
  let previous: BuiltRelease
  let mesh: Mesh

  beforeAll(async () => {
    previous = await buildRelease(PREVIOUS)
    console.log(`rolling: release ${PREVIOUS} (${previous.commit.slice(0, 12)}) ${previous.buildS > 0 ? `built in ${previous.buildS.toFixed(1)} s` : 'from the cache'}`)
    mesh = await Mesh.create({
      nodes: 3,
      bins: i => (i === OLD ? previous : undefined),
      // scripts run for received events only: a restart re-applying the ledger would blur what catch-up brought
      config: () => ({ reapplyOnStart: false })
    })
  }, 900_000)
  afterAll(async () => { await mesh?.stop() })

  const ban = (ip: string) => ['ban', 'sshd', 'tcp', '22', ip]
  const peerId = async (i: number) => (await mesh.status(i)).peerId
  const origins = async (i: number, ip: string) => (await mesh.list(i, true)).filter(e => e.ip === ip).map(e => `${e.action} ${e.origin}`)
  /** Waits until every node's ledger holds the same catch-up root (same entries, also tombstones). */
  const converged = async () => {
    const deadline = Date.now() + 20_000
    let roots: Array<string | undefined> = []
    while (Date.now() < deadline) {
      roots = (await Promise.all([0, 1, 2].map(i => mesh.status(i)))).map(s => s.ledger.root)
      if (roots[0] !== undefined && roots.every(r => r === roots[0])) return
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error(`ledger roots differ after 20 s: ${roots.join(' ')}`)
  }

  it('runs each release on its own build, and every node meshes with the other two', async () => {
    expect((await runBin(previous.fst, ['--version'])).stdout).toMatch(new RegExp(`^fst ${PREVIOUS.replaceAll('.', '\\.')} \\(git ${previous.commit.slice(0, 12)},`))
    expect((await mesh.fst(OLD, ['--version'])).stdout.startsWith(`fst ${PREVIOUS} `)).toBe(true)
    expect((await mesh.fst(0, ['--version'])).stdout.startsWith(`fst ${CURRENT} `)).toBe(true)
    expect(CURRENT).not.toBe(PREVIOUS)
    for (const i of [0, 1, 2]) expect((await mesh.status(i)).meshPeers).toHaveLength(2)
  })

  it(`a ban reported on the ${PREVIOUS} node runs on both current nodes`, async () => {
    const hook = await mesh.hook(OLD, ban('203.0.113.21'))
    expect(hook).toMatchObject({ code: 0, stderr: '' })
    for (const i of NEW) expect(await mesh.waitForRuns(i, 1)).toEqual(['ban sshd tcp 22 203.0.113.21'])
    const origin = await peerId(OLD)
    for (const i of NEW) expect(await origins(i, '203.0.113.21')).toEqual([`ban ${origin}`])
  })

  it(`a ban reported on a current node runs on the ${PREVIOUS} node and the other current one`, async () => {
    expect(await mesh.hook(0, ban('203.0.113.22'))).toMatchObject({ code: 0, stderr: '' })
    expect(await mesh.waitForRuns(OLD, 1)).toEqual(['ban sshd tcp 22 203.0.113.22'])
    expect((await mesh.waitForRuns(1, 2))[1]).toBe('ban sshd tcp 22 203.0.113.22')
    expect(await origins(OLD, '203.0.113.22')).toEqual([`ban ${await peerId(0)}`])
    await converged()
  })

  it(`the ${PREVIOUS} node, down while a current node banned and unbanned, catches up on restart`, async () => {
    await mesh.stopNode(OLD)
    expect((await mesh.hook(0, ban('203.0.113.23'))).code).toBe(0)
    expect((await mesh.hook(0, ['unban', 'sshd', 'tcp', '22', '203.0.113.22'])).code).toBe(0)
    await mesh.waitForRuns(1, 4)
    await mesh.startNode(OLD)
    await mesh.waitConnected()
    const runs = await mesh.waitForRuns(OLD, 3, 30_000)
    expect(runs.slice(1).sort()).toEqual(['ban sshd tcp 22 203.0.113.23', 'unban sshd tcp 22 203.0.113.22'])
    expect(await origins(OLD, '203.0.113.22')).toEqual([`unban ${await peerId(0)}`])
    await converged()
  })

  it(`a current node, down while the ${PREVIOUS} node and the other current one banned, catches up on restart`, async () => {
    await mesh.stopNode(0)
    const before = mesh.runs(0).length
    expect((await mesh.hook(OLD, ban('203.0.113.24'))).code).toBe(0)
    expect((await mesh.hook(1, ban('203.0.113.25'))).code).toBe(0)
    await mesh.waitForRuns(OLD, 4)
    await mesh.startNode(0)
    await mesh.waitConnected()
    const runs = await mesh.waitForRuns(0, before + 2, 30_000)
    expect(runs.slice(before).sort()).toEqual(['ban sshd tcp 22 203.0.113.24', 'ban sshd tcp 22 203.0.113.25'])
    expect(await origins(0, '203.0.113.24')).toEqual([`ban ${await peerId(OLD)}`])
    await converged()
  })

  // docs/protocol.md §7: a release may refuse only what N-1 never sends. A 0.1.0 hook given these publishes
  // them as they are (an unban keeps the duration it was called with; a port keeps its leading zero)
  it(`what a ${PREVIOUS} hook publishes for unusual input (an unban with a duration, a port 080) is applied by current nodes`, async () => {
    const before = NEW.map(i => mesh.runs(i).length)
    expect((await mesh.hook(OLD, ['unban', 'sshd', 'tcp', '22', '203.0.113.21', '600'])).code).toBe(0)
    expect((await mesh.hook(OLD, ['ban', 'web', 'tcp', '080', '203.0.113.26'])).code).toBe(0)
    // what 0.1.0 signed and sent (its own ledger, the form a current node receives)
    const sent = (await mesh.list(OLD, true)).filter(e => ['203.0.113.21', '203.0.113.26'].includes(e.ip))
    expect(sent.map(e => `${e.action} ${e.port} ${e.duration}`)).toEqual(['unban 22 600', 'ban 080 600'])
    for (const [k, i] of NEW.entries()) {
      const runs = (await mesh.waitForRuns(i, before[k]! + 2)).slice(before[k])
      // scripts may be given the canonical port (80) of what was received
      expect(runs[0]).toBe('unban sshd tcp 22 203.0.113.21')
      expect(runs[1]).toMatch(/^ban web tcp 0?80 203\.0\.113\.26$/)
    }
    await converged()
  })

  it('no node of either release rejected a message or refused an entry (fst status --json of its own build)', async () => {
    const all: ListedEntry[][] = await Promise.all([0, 1, 2].map(i => mesh.list(i, true)))
    expect(all[0]!.map(e => `${e.action} ${e.ip}`)).toEqual([
      'unban 203.0.113.21', 'unban 203.0.113.22', 'ban 203.0.113.23', 'ban 203.0.113.24', 'ban 203.0.113.25', 'ban 203.0.113.26'
    ])
    expect(all[1]).toEqual(all[0])
    expect(all[2]).toEqual(all[0])
    for (const i of [0, 1, 2]) {
      const out = await mesh.fst(i, ['status', '--json'])
      expect(out.code, out.stderr).toBe(0)
      const status = JSON.parse(out.stdout) as NodeStatus
      expect(status.defences.rejected, `node ${i}`).toEqual({})
      expect(status.defences.entries ?? {}, `node ${i}`).toEqual({})
      expect(status.meshPeers).toHaveLength(2)
    }
  })
})
