import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Mesh } from '../utils/mesh.js'
import { SwitchedHosts } from '../utils/switched-hosts.js'

describe('partition and heal (three hosts in network namespaces)', () => {
  let net: SwitchedHosts
  let mesh: Mesh
  beforeAll(async () => {
    net = SwitchedHosts.create(3)
    // B lifts A's ban: an operator's `fst unban` where every server may (a hook's unban of it would stay local)
    mesh = await Mesh.create({ nodes: 3, netns: i => net.hosts[i]!, host: i => net.address(i), config: () => ({ unbanAuthority: { mode: 'any' } }) })
  })
  afterAll(async () => {
    await mesh?.stop()
    net?.destroy()
  })

  it('converges all three ledgers after C was cut off while A banned and B unbanned', async () => {
    // common history: two bans everyone has
    for (const ip of ['203.0.113.1', '203.0.113.2']) expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip])).code).toBe(0)
    await Promise.all([1, 2].map(i => mesh.waitForRuns(i, 2)))
    const peerIds = await Promise.all([0, 1, 2].map(async i => (await mesh.status(i)).peerId))

    net.cut(2)
    await pWaitFor(async () => {
      const [a, b, c] = await Promise.all([0, 1, 2].map(i => mesh.status(i)))
      return !a!.peers.includes(peerIds[2]!) && !b!.peers.includes(peerIds[2]!) && c!.peers.length === 0
    }, { interval: 50, timeout: 20_000 })

    const bans = Array.from({ length: 50 }, (_, i) => `ban sshd tcp 22 203.0.113.${i + 10}`)
    expect((await mesh.fst(0, ['publish', '--stdin'], `${bans.join('\n')}\n`)).stdout.trim()).toBe('50 accepted')
    expect((await mesh.fst(1, ['unban', '203.0.113.1', '--name', 'sshd'])).code).toBe(0)
    await mesh.waitForRuns(1, 2 + 50)
    await mesh.waitForRuns(0, 1)
    expect(await mesh.list(2)).toHaveLength(2) // C saw none of it

    net.heal(2)
    await mesh.waitConnected()
    await pWaitFor(async () => (await mesh.list(2, true)).length === 52, { interval: 100, timeout: 20_000 })
    await mesh.settle()
    const [a, b, c] = await Promise.all([0, 1, 2].map(i => mesh.list(i, true)))
    expect(a).toHaveLength(52)
    expect(b).toEqual(a)
    expect(c).toEqual(a)
    expect(c!.find(e => e.ip === '203.0.113.1')?.action).toBe('unban')
    // C ran the 50 new bans and the unban, each once
    const runs = mesh.runs(2)
    expect(runs.filter(l => l.startsWith('ban ')).length).toBe(52)
    expect(new Set(runs).size).toBe(runs.length)
    expect(runs).toContain('unban sshd tcp 22 203.0.113.1')
    expect(mesh.nodes[2]!.log()).toContain('caught up with peer')
  })

  it('unbans a 2 s ban on every node when the network drops the origin\'s traffic after the ban arrived', async () => {
    const ip = '203.0.113.200'
    const before = [1, 2].map(i => mesh.runs(i).length)
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip, '2'])).code).toBe(0)
    await Promise.all([1, 2].map(i => mesh.waitForRuns(i, before[i - 1]! + 1)))
    net.cut(0)
    try {
      await Promise.all([1, 2].map(i => mesh.waitForRuns(i, before[i - 1]! + 2)))
      for (const i of [1, 2]) expect(mesh.runs(i).slice(-2)).toEqual([`ban sshd tcp 22 ${ip}`, `unban sshd tcp 22 ${ip}`])
      const [b, c] = await Promise.all([mesh.list(1, true), mesh.list(2, true)])
      expect(b.find(e => e.ip === ip)?.action).toBe('unban')
      expect(c).toEqual(b)
    } finally {
      net.heal(0)
    }
    await mesh.waitConnected()
    await pWaitFor(async () => JSON.stringify(await mesh.list(0, true)) === JSON.stringify(await mesh.list(1, true)), { interval: 100, timeout: 20_000 })
    const [a, c] = await Promise.all([mesh.list(0, true), mesh.list(2, true)])
    expect(a.find(e => e.ip === ip)?.action).toBe('unban')
    expect(c).toEqual(a)
  })
})
