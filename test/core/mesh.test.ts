import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Mesh } from '../utils/mesh.js'

/**
 * Issue 2 acceptance: three `fst start` processes on 127.0.0.1. A ban handed to node 0's hook runs the
 * ban.d scripts of nodes 1 and 2 with exactly the hook's arguments; a custom action runs only where it
 * has a folder; an action nobody has is ignored everywhere.
 */
describe('three-node mesh on loopback', () => {
  let mesh: Mesh

  beforeAll(async () => {
    mesh = await Mesh.create({
      nodes: 3,
      actions: i => (i === 2 ? ['ban', 'unban', 'nullroute'] : ['ban', 'unban'])
    })
  })
  afterAll(async () => { await mesh?.stop() })

  it('runs the ban scripts on the other nodes with the hook arguments', async () => {
    const hook = await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.7'])
    expect(hook).toMatchObject({ code: 0, stderr: '' })
    expect(await mesh.waitForRuns(1, 1)).toEqual(['ban sshd tcp 22 203.0.113.7'])
    expect(await mesh.waitForRuns(2, 1)).toEqual(['ban sshd tcp 22 203.0.113.7'])
    // the origin does not run its own event by default
    expect(mesh.runs(0)).toEqual([])
  })

  it('runs a custom action only where its folder exists, and ignores an unknown action', async () => {
    expect((await mesh.hook(0, ['nullroute', 'web', 'all', '0:65535', '198.51.100.9'])).code).toBe(0)
    expect((await mesh.hook(0, ['nosuchaction', 'web', 'tcp', '80', '198.51.100.10'])).code).toBe(0)
    // a later ban from the same origin is the barrier: once it ran, the earlier events were processed
    expect((await mesh.hook(0, ['ban', 'web', 'tcp', '443', '198.51.100.11'])).code).toBe(0)
    await mesh.waitForRuns(1, 2)
    await mesh.waitForRuns(2, 3)
    expect(mesh.runs(1)).toEqual(['ban sshd tcp 22 203.0.113.7', 'ban web tcp 443 198.51.100.11'])
    expect(mesh.runs(2)).toEqual([
      'ban sshd tcp 22 203.0.113.7',
      'nullroute web all 0:65535 198.51.100.9',
      'ban web tcp 443 198.51.100.11'
    ])
    expect(mesh.runs(0)).toEqual([])
  })

  it('does not publish again when a received ban comes back through the local hook (echo)', async () => {
    // node 1 already applied this ban from node 0; its fail2ban would now call the hook
    const echo = await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', '203.0.113.7'])
    expect(echo.code).toBe(0)
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.99'])).code).toBe(0)
    await mesh.waitForRuns(2, 4)
    expect(mesh.runs(2).filter(l => l.includes('203.0.113.7'))).toHaveLength(1)
    expect(mesh.runs(0)).toEqual([])
  })

  it('refuses invalid hook input with a clear message, and nothing runs anywhere', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['ban', 'sshd', 'tcp', '22', '999.1.1.1'], /not an IPv4 or IPv6 address/],
      [['ban', 'sshd', 'tcp', '22', 'not-an-ip'], /not an IPv4 or IPv6 address/],
      [['ban;id', 'sshd', 'tcp', '22', '203.0.113.8'], /action must match/],
      [['ban', '$(id)', 'tcp', '22', '203.0.113.8'], /name must match/],
      [['../../bin', 'sshd', 'tcp', '22', '203.0.113.8'], /action must match/],
      [['ban', 'ss hd', 'tcp', '22', '203.0.113.8'], /name must match/],
      [['ban', 'sshd', 'tcp', '22'], /expected 5 or 6 arguments/],
      [['ban', 'sshd', 'tcp', '22', '203.0.113.8', '60', 'extra'], /expected 5 or 6 arguments/],
      [['ban', 'sshd', 'tcp', '99999', '203.0.113.8'], /bad port range/],
      [['ban', 'sshd', 'TCP;', '22', '203.0.113.8'], /protocol must match/]
    ]
    for (const [args, message] of cases) {
      const out = await mesh.hook(0, args)
      expect(out.code, args.join(' ')).not.toBe(0)
      expect(out.stderr).toMatch(message)
      expect(out.stderr.trim().split('\n')).toHaveLength(1)
    }
    const barrier = await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.100'])
    expect(barrier.code).toBe(0)
    await mesh.waitForRuns(1, 4)
    expect(mesh.runs(1).some(l => l.includes('203.0.113.8'))).toBe(false)
    expect(mesh.runs(2).some(l => l.includes('203.0.113.8'))).toBe(false)
  })

  it('reports its peer ID and connected peers in fst status --json', async () => {
    const statuses = await Promise.all([0, 1, 2].map(async i => {
      const out = await mesh.fst(i, ['status', '--json'])
      expect(out.code).toBe(0)
      return JSON.parse(out.stdout) as { peerId: string, peers: string[] }
    }))
    for (const [i, s] of statuses.entries()) {
      expect(s.peerId).toMatch(/^12D3KooW/)
      expect(new Set(s.peers)).toEqual(new Set(statuses.filter((_, j) => j !== i).map(o => o.peerId)))
    }
  })

  it('lists every peer in fst peers, the self row with its own peer ID', async () => {
    const status = await mesh.status(1)
    const out = await mesh.fst(1, ['peers', '--json'])
    expect(out.code).toBe(0)
    const rows = JSON.parse(out.stdout) as Array<{ self: boolean, peerId: string | null, connected: boolean, pinned: string }>
    expect(rows).toHaveLength(3)
    expect(rows.filter(r => r.self)).toEqual([expect.objectContaining({ peerId: status.peerId, pinned: 'self', connected: false })])
    expect(new Set(rows.filter(r => !r.self).map(r => r.peerId))).toEqual(new Set(status.peers))
    expect(rows.filter(r => !r.self).every(r => r.connected && r.pinned === 'first-use')).toBe(true)
  })
})
