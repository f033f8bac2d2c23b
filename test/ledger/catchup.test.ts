import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Mesh } from '../utils/mesh.js'

const COUNT = 500
const addresses = Array.from({ length: COUNT }, (_, i) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`)

/** Lines per address from a batch recording script (`ban sshd tcp 22 <ip> 0`). */
function countByIp (lines: string[], action: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const line of lines) {
    const words = line.split(' ')
    if (words[0] === action) counts.set(words[4]!, (counts.get(words[4]!) ?? 0) + 1)
  }
  return counts
}

describe('catch-up after an outage (three nodes on loopback)', () => {
  let mesh: Mesh
  beforeAll(async () => {
    // node 1 restores nothing on start (fail2ban does it there); node 2 re-applies its ledger
    mesh = await Mesh.create({ nodes: 3, batchScripts: true, config: i => ({ reapplyOnStart: i !== 1 }) })
  })
  afterAll(async () => { await mesh?.stop() })

  it('a node that was stopped while 500 bans were published runs every ban script exactly once on return', async () => {
    await mesh.stopNode(2)
    const input = addresses.map(ip => `ban sshd tcp 22 ${ip}`).join('\n')
    const published = await mesh.fst(0, ['publish', '--stdin'], `${input}\n`)
    expect(published.stdout.trim(), published.stderr).toBe(`${COUNT} accepted`)
    await mesh.waitForRuns(1, COUNT)

    await mesh.startNode(2)
    await mesh.waitForRuns(2, COUNT, 30_000)
    await mesh.settle()
    // a periodic or repeated catch-up must not run anything again
    await mesh.stopNode(1)
    await mesh.startNode(1)
    await mesh.waitConnected()
    await mesh.settle()

    const counts = countByIp(mesh.runs(2), 'ban')
    expect(counts.size).toBe(COUNT)
    expect([...counts.values()].every(n => n === 1)).toBe(true)
    expect(new Set(counts.keys())).toEqual(new Set(addresses))
    // pulls run one at a time: the first peer sends the missing bans, the second then has nothing to add
    const pulls = mesh.nodes[2]!.log().split('\n').filter(l => l.includes('caught up with peer')).map(l => JSON.parse(l) as { received: number })
    expect(pulls.length).toBeGreaterThan(0)
    expect(pulls.reduce((sum, p) => sum + p.received, 0)).toBe(COUNT)
    const [a, b, c] = await Promise.all([0, 1, 2].map(i => mesh.list(i, true)))
    expect(a).toHaveLength(COUNT)
    expect(b).toEqual(a)
    expect(c).toEqual(a)
  })

  it('re-applies the active ledger on start when reapplyOnStart is on, and not when it is off', async () => {
    const before = [mesh.runs(1).length, mesh.runs(2).length]
    await mesh.stopNode(1)
    await mesh.stopNode(2)
    await mesh.startNode(1)
    await mesh.startNode(2)
    await mesh.waitForRuns(2, before[1]! + COUNT, 30_000)
    await mesh.waitConnected()
    await mesh.settle()
    expect(countByIp(mesh.runs(2), 'ban').get(addresses[0]!)).toBe(2)
    expect(mesh.runs(1).length).toBe(before[0])
  })

  it('shows entries for an address, including those of a CIDR that contains it', async () => {
    const ban = await mesh.hook(0, ['ban', 'recidive', 'all', '0:65535', '203.0.113.0/24'])
    expect(ban.code).toBe(0)
    await pWaitFor(async () => (await mesh.list(1)).some(e => e.ip === '203.0.113.0/24'), { interval: 50, timeout: 10_000 })
    const shown = await mesh.fst(1, ['show', '203.0.113.77', '--json'])
    expect(JSON.parse(shown.stdout).map((e: { ip: string }) => e.ip)).toEqual(['203.0.113.0/24'])
    const text = await mesh.fst(1, ['show', '203.0.113.0/25'])
    expect(text.stdout).toContain('recidive')
    const none = await mesh.fst(1, ['show', '198.51.100.1'])
    expect(none.stdout.trim()).toBe('no active entries')
    const filtered = await mesh.fst(1, ['list', '--json', '--name', 'recidive', '--action', 'ban'])
    expect(JSON.parse(filtered.stdout)).toHaveLength(1)
  })
})
