import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Mesh } from '../utils/mesh.js'

describe('expiry when the unban message is lost', () => {
  let mesh: Mesh
  beforeAll(async () => { mesh = await Mesh.create({ nodes: 3 }) })
  afterAll(async () => { await mesh?.stop() })

  it('unbans a 2 s ban on every node although its origin was killed right after publishing', async () => {
    const ip = '203.0.113.42'
    const ban = await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip, '2'])
    expect(ban.code).toBe(0)
    await Promise.all([1, 2].map(i => mesh.waitForRuns(i, 1)))
    // the origin dies before the ban expires: nobody will ever receive its unban
    await mesh.stopNode(0, 'SIGKILL')
    for (const i of [1, 2]) expect(mesh.runs(i)).toEqual([`ban sshd tcp 22 ${ip}`])

    await Promise.all([1, 2].map(i => mesh.waitForRuns(i, 2, 10_000)))
    for (const i of [1, 2]) expect(mesh.runs(i)).toEqual([`ban sshd tcp 22 ${ip}`, `unban sshd tcp 22 ${ip}`])
    const [b, c] = await Promise.all([mesh.list(1, true), mesh.list(2, true)])
    expect(b).toHaveLength(1)
    expect(b[0]!.action).toBe('unban')
    expect(c).toEqual(b)
    expect(await mesh.list(1)).toEqual([])

    // the origin comes back: its ledger turns the ban into the same tombstone, and nothing runs twice
    await mesh.startNode(0)
    await mesh.waitConnected()
    await pWaitFor(async () => (await mesh.list(0, true))[0]?.action === 'unban', { interval: 50, timeout: 10_000 })
    expect(await mesh.list(0, true)).toEqual(b)
    await mesh.settle()
    for (const i of [1, 2]) expect(mesh.runs(i)).toHaveLength(2)
  })

  it('a ban outlived by its duration while a node was down is not run there on return, and ledgers agree', async () => {
    await mesh.stopNode(2)
    const ip = '203.0.113.43'
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip, '1'])).code).toBe(0)
    await mesh.waitForRuns(1, 4)
    const before = mesh.runs(2).length
    await mesh.startNode(2)
    await mesh.waitConnected()
    await pWaitFor(async () => (await mesh.list(2, true)).some(e => e.ip === ip), { interval: 50, timeout: 10_000 })
    await mesh.settle()
    expect(mesh.runs(2)).toHaveLength(before)
    const [a, b, c] = await Promise.all([0, 1, 2].map(i => mesh.list(i, true)))
    expect(b).toEqual(a)
    expect(c).toEqual(a)
  })
})
