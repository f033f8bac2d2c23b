import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences } from '../utils/defences.js'
import type { Mesh } from '../utils/mesh.js'
import { meshWithRogueMember, type Rogue, wireMessage } from '../utils/rogue.js'

const ips = Array.from({ length: 50 }, (_, i) => `198.51.100.${i + 1}`)

/**
 * Issue 19 acceptance, unban authority `origin`: node 0 bans 50 addresses; a listed peer gone rogue unbans all
 * 50 (validly signed, by gossip): every node refuses them and counts them, nothing is lifted. Node 0's own
 * unban of one of them still works. The rogue's own ban of a barrier address shows its unbans were processed.
 */
describe('unban authority: only a ban\'s origin may lift it', () => {
  let mesh: Mesh
  let rogue: Rogue

  beforeAll(async () => {
    ({ mesh, rogue } = await meshWithRogueMember({
      nodes: 3,
      config: () => ({ unbanAuthority: { mode: 'origin' } })
    }, 1))
  })
  afterAll(async () => {
    await rogue?.stop()
    await mesh?.stop()
  })

  it('lifts none of 50 bans for a compromised peer, and still for their origin', async () => {
    for (let i = 0; i < ips.length; i += 10) {
      const calls = ips.slice(i, i + 10).map(ip => mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip]))
      for (const r of await Promise.all(calls)) expect(r.code).toBe(0)
    }
    for (const i of [1, 2]) await mesh.waitForRuns(i, 50, 30_000)

    const at = Date.now()
    expect(await rogue.publish(wireMessage(ips.map(ip => ['unban', 'sshd', 'tcp', '22', ip, at, 0])))).toBeGreaterThan(0)
    expect(await rogue.publish(wireMessage([['ban', 'barrier', 'tcp', '22', '203.0.113.200']]))).toBeGreaterThan(0)
    for (const i of [1, 2]) await mesh.waitForRuns(i, 51, 20_000)
    for (const i of [1, 2]) {
      expect(mesh.runs(i).filter(l => l.startsWith('unban'))).toEqual([])
      expect((await defences(mesh, i)).entries?.unban_not_authorized).toBe(50)
      expect((await mesh.status(i)).ledger.active).toBe(51)
    }
    expect((await defences(mesh, 0)).entries?.unban_not_authorized).toBe(50)
    expect((await mesh.status(0)).ledger.active).toBe(51)

    // the origin may: its unban lifts the ban everywhere
    expect((await mesh.hook(0, ['unban', 'sshd', 'tcp', '22', ips[0]!])).code).toBe(0)
    for (const i of [1, 2]) expect((await mesh.waitForRuns(i, 52, 20_000)).at(-1)).toBe(`unban sshd tcp 22 ${ips[0]}`)
    // and another listed node may not: its `fst unban` says what to do (exit 1), and nothing is published
    const refused = await mesh.fst(1, ['unban', ips[1]!])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/on the server that issued it/)
    await pWaitFor(async () => (await defences(mesh, 1)).refused.unban_not_authorized === 1, { interval: 100, timeout: 5000 })
    // its firewall's own unban of the received ban (a jail's shorter bantime) stays local: exit 0, not published
    const local = await mesh.hook(1, ['unban', 'sshd', 'tcp', '22', ips[1]!])
    expect(local.code).toBe(0)
    expect((await mesh.status(1)).messages.suppressed).toBeGreaterThan(0)
    expect((await mesh.status(2)).ledger.active).toBe(50)
  })

  it('lifts nothing when the compromised peer bans the same keys 1 ms later with a ban already over (issue 26)', async () => {
    const targets = ips.slice(2, 12)
    const held = (await mesh.list(1)).filter(e => targets.includes(e.ip))
    expect(held).toHaveLength(10)
    const before = await Promise.all([1, 2].map(async i => (await defences(mesh, i)).entries?.unban_not_authorized ?? 0))
    // its own bans, newer than node 0's and past their time on arrival: stored as tombstones, they ran every unban
    expect(await rogue.publish(wireMessage(held.map(e => ['ban', 'sshd', 'tcp', '22', e.ip, e.time + 1, 1])))).toBeGreaterThan(0)
    expect(await rogue.publish(wireMessage([['ban', 'barrier', 'tcp', '22', '203.0.113.201']]))).toBeGreaterThan(0)
    for (const i of [1, 2]) await mesh.waitForRuns(i, 53, 20_000)
    for (const [n, i] of [1, 2].entries()) {
      expect(mesh.runs(i).filter(l => l.startsWith('unban')).length).toBe(1)
      expect((await defences(mesh, i)).entries?.unban_not_authorized).toBe(before[n]! + 10)
      expect((await mesh.list(i)).filter(e => targets.includes(e.ip)).map(e => e.origin)).toEqual(held.map(e => e.origin))
    }
  })
})

/**
 * Issue 26, finding 3: with the shipped defaults (no unbanAuthority in config.yml), a compromised member's
 * unbans of another server's bans lift nothing. On 0.1.0 the default was `any` and they lifted them everywhere.
 */
describe('unban authority with the shipped defaults', () => {
  let mesh: Mesh
  let rogue: Rogue

  beforeAll(async () => {
    ({ mesh, rogue } = await meshWithRogueMember({ nodes: 2 }, 1))
  })
  afterAll(async () => {
    await rogue?.stop()
    await mesh?.stop()
  })

  it('refuses a listed peer\'s unbans of another origin\'s bans', async () => {
    const targets = ips.slice(0, 5)
    for (const r of await Promise.all(targets.map(ip => mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip])))) expect(r.code).toBe(0)
    await mesh.waitForRuns(1, 5, 20_000)
    expect(await rogue.publish(wireMessage(targets.map(ip => ['unban', 'sshd', 'tcp', '22', ip, Date.now(), 0])))).toBeGreaterThan(0)
    expect(await rogue.publish(wireMessage([['ban', 'barrier', 'tcp', '22', '203.0.113.202']]))).toBeGreaterThan(0)
    await mesh.waitForRuns(1, 6, 20_000)
    expect(mesh.runs(1).filter(l => l.startsWith('unban'))).toEqual([])
    expect((await defences(mesh, 1)).entries?.unban_not_authorized).toBe(5)
    expect((await mesh.status(1)).ledger.active).toBe(6)
  })
})
