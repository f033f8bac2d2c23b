import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterEach, describe, expect, it } from 'vitest'
import { FST, freePort, Mesh, runBin } from '../utils/mesh.js'
import { newKey, Rogue, wireMessage } from '../utils/rogue.js'

/**
 * Issue 3 acceptance, membership: who may connect at all. Each case counts the scripts run on honest nodes
 * (zero for the attack) and ends with a legitimate ban as a barrier: once it ran, the attack was processed.
 */
describe('membership: outsiders, wrong network key, changed peer key', () => {
  let mesh: Mesh | undefined
  const rogues: Rogue[] = []

  afterEach(async () => {
    await Promise.all(rogues.splice(0).map(r => r.stop()))
    await mesh?.stop()
    mesh = undefined
  })

  async function barrier (m: Mesh, from: number, to: number[], ip: string): Promise<void> {
    const before = to.map(i => m.runs(i).length)
    expect((await m.hook(from, ['ban', 'barrier', 'tcp', '22', ip])).code).toBe(0)
    for (const [k, i] of to.entries()) await m.waitForRuns(i, before[k]! + 1)
  }

  it('refuses an unlisted node that connects and publishes: no connection, no script', async () => {
    mesh = await Mesh.create({ nodes: 2 })
    const rogue = await Rogue.create()
    rogues.push(rogue)
    const peerId0 = (await mesh.status(0)).peerId
    await rogue.connect(mesh.nodes[0]!.port, 3000).catch(() => null)
    const m = mesh
    await pWaitFor(() => m.nodes[0]!.log().includes('refused inbound connection from unlisted peer'), { interval: 20, timeout: 10_000 })
    await pWaitFor(() => rogue.host.getConnections().length === 0, { interval: 20, timeout: 10_000 })
    // it publishes anyway: nobody is there to take it
    expect(await rogue.publish(wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.50']]))).toBe(0)
    expect(() => rogue.sendRaw(peerId0, [])).toThrow(/no gossipsub stream/)
    expect((await mesh.status(0)).peers).not.toContain(rogue.peerId)
    await barrier(mesh, 1, [0], '203.0.113.51')
    expect(mesh.runs(0)).toEqual(['ban barrier tcp 22 203.0.113.51'])
  })

  it("pins a listed server that dials in before we dialed it: a fleet's first start needs no redial backoff", async () => {
    // redials 30 s apart: without the dial an unknown inbound peer triggers, the second node to start would
    // wait for one of them (node 0's dial failed before node 1 listened; node 1's dial is refused, unpinned)
    mesh = await Mesh.create({ nodes: 2, start: false, config: () => ({ redial: { minMs: 30_000, maxMs: 30_000 } }) })
    await mesh.startNode(0)
    await mesh.startNode(1)
    await mesh.waitConnected(10_000)
    const log0 = mesh.nodes[0]!.log()
    expect(log0).toContain('refused inbound connection from a peer not pinned yet')
    expect(log0).toContain('pinned peer ID on first use')
    expect(log0).not.toContain('refused inbound connection from unlisted peer')
    await barrier(mesh, 1, [0], '203.0.113.55')
    expect(mesh.runs(0)).toEqual(['ban barrier tcp 22 203.0.113.55'])
  })

  it('refuses a listed key that lacks the network key, and accepts it with the key', async () => {
    const member = await newKey()
    const memberPort = await freePort()
    mesh = await Mesh.create({
      nodes: 2,
      start: false,
      config: () => ({ networkKeyFile: '../swarm.key' }),
      peersFile: nodes => [...nodes.map(n => `127.0.0.1:${n.port}`), `${member.peerId}@127.0.0.1:${memberPort}`].join('\n')
    })
    const keygen = await runBin(FST, ['keygen', join(mesh.root, 'swarm.key')])
    expect(keygen.code, keygen.stderr).toBe(0)
    const other = await runBin(FST, ['keygen', join(mesh.root, 'other.key')])
    expect(other.code).toBe(0)
    await mesh.startAll()

    for (const networkKey of [null, readFileSync(join(mesh.root, 'other.key'))]) {
      const outsider = await Rogue.create({ key: member.key, networkKey })
      rogues.push(outsider)
      await expect(outsider.connect(mesh.nodes[0]!.port, 3000)).rejects.toThrow()
      expect(outsider.host.getConnections()).toHaveLength(0)
      expect(await outsider.publish(wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.60']]))).toBe(0)
      await outsider.stop()
    }
    // the same listed key with the right network key gets in: the refusal above was the network key's doing
    const insider = await Rogue.create({ key: member.key, port: memberPort, networkKey: readFileSync(join(mesh.root, 'swarm.key')) })
    rogues.push(insider)
    await insider.connect(mesh.nodes[0]!.port)
    await insider.waitSubscriber((await mesh.status(0)).peerId)
    expect(await insider.publish(wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.61']]))).toBeGreaterThan(0)
    await mesh.waitForRuns(0, 1)
    await barrier(mesh, 1, [0], '203.0.113.62')
    expect(mesh.runs(0)).toEqual(['ban sshd tcp 22 203.0.113.61', 'ban barrier tcp 22 203.0.113.62'])
    expect(mesh.runs(1)).toEqual(['ban sshd tcp 22 203.0.113.61'])
  })

  /** Node 0's log lines (JSON) whose msg contains `text`. */
  const logged = (m: Mesh, text: string) => m.nodes[0]!.log().split('\n').filter(l => l.includes(text)).map(l => JSON.parse(l) as { level: number, msg: string })

  it('refuses a listed address answered by a different key (loud error, once; `key changed` in fst peers), until `fst repin`', async () => {
    // debug shows the redials that met the changed key again, and that they were not logged above it
    mesh = await Mesh.create({ nodes: 3, config: i => (i === 0 ? { logLevel: 'debug' } : {}) })
    const m = mesh
    const original = (await m.status(1)).peerId
    const pinned = async () => {
      const out = await m.fst(0, ['peers', '--json'])
      expect(out.code, out.stderr).toBe(0)
      return JSON.parse(out.stdout) as Array<{ entry: string, peerId: string | null, pinned: string, connected: boolean, keyChanged: { peerId: string, since: number } | null }>
    }
    const entry = `127.0.0.1:${m.nodes[1]!.port}`
    expect((await pinned()).find(p => p.entry === entry)).toMatchObject({ peerId: original, pinned: 'first-use' })

    await m.stopNode(1)
    const impostor = await Rogue.create({ port: m.nodes[1]!.port })
    rogues.push(impostor)
    await pWaitFor(() => m.nodes[0]!.log().includes('PEER KEY CHANGED'), { interval: 20, timeout: 15_000 })
    const line = m.nodes[0]!.log().split('\n').find(l => l.includes('PEER KEY CHANGED'))!
    expect(JSON.parse(line)).toMatchObject({ level: 50, expected: original, got: impostor.peerId, entry })
    // it also tries inbound (a reinstalled server dials us too), and publishes what it can
    await expect(impostor.connect(m.nodes[0]!.port, 3000)).rejects.toThrow()
    await expect(impostor.connect(m.nodes[0]!.port, 3000)).rejects.toThrow()
    await impostor.publish(wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.70']]))
    // said once: the redials and the inbound attempts meet the same key, logged at debug only, never as an unlisted peer
    await pWaitFor(() => logged(m, 'peer key still changed').length >= 2, { interval: 20, timeout: 15_000 })
    expect(logged(m, 'PEER KEY CHANGED')).toHaveLength(1)
    expect(logged(m, 'the peer\'s key changed').every(l => l.level === 20)).toBe(true)
    expect(logged(m, 'the peer\'s key changed').length).toBeGreaterThanOrEqual(2)
    expect(logged(m, 'unlisted')).toEqual([])
    const row = (await pinned()).find(p => p.entry === entry)!
    expect(row).toMatchObject({ peerId: original, connected: false, keyChanged: { peerId: impostor.peerId } })
    const text = await m.fst(0, ['peers'])
    expect(text.stdout.split('\n').find(l => l.startsWith(entry))).toMatch(new RegExp(`^${entry} +key changed +first-use:${original} .*now answers as ${impostor.peerId} since `))
    expect((await m.status(0)).peers).not.toContain(impostor.peerId)
    await barrier(m, 2, [0], '203.0.113.71')
    expect(m.runs(0)).toEqual(['ban barrier tcp 22 203.0.113.71'])
    expect((await pinned()).find(p => p.entry === entry)?.peerId).toBe(original)

    // the key was legitimately replaced: the administrator re-pins, the next dial pins the new key
    const repin = await m.fst(0, ['repin', entry])
    expect(repin.code, repin.stderr).toBe(0)
    await impostor.waitSubscriber((await m.status(0)).peerId, 15_000)
    expect((await pinned()).find(p => p.entry === entry)).toMatchObject({ peerId: impostor.peerId, pinned: 'first-use', keyChanged: null })
    await impostor.publish(wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.72']]))
    expect(await m.waitForRuns(0, 2)).toEqual(['ban barrier tcp 22 203.0.113.71', 'ban sshd tcp 22 203.0.113.72'])
  })

  it('names the changed key when the reinstalled server dials in first, long before our redial', async () => {
    // node 0 would redial its lost peer only after ~a minute: what finds the key is the inbound knock
    mesh = await Mesh.create({ nodes: 2, config: i => (i === 0 ? { redial: { minMs: 60_000, maxMs: 60_000 } } : {}) })
    const m = mesh
    const original = (await m.status(1)).peerId
    const entry = `127.0.0.1:${m.nodes[1]!.port}`
    await m.stopNode(1)
    const reinstalled = await Rogue.create({ port: m.nodes[1]!.port })
    rogues.push(reinstalled)
    await expect(reinstalled.connect(m.nodes[0]!.port, 3000)).rejects.toThrow()
    await pWaitFor(() => logged(m, 'PEER KEY CHANGED').length > 0, { interval: 20, timeout: 15_000 })
    expect(logged(m, 'PEER KEY CHANGED')).toEqual([expect.objectContaining({ level: 50, entry, expected: original, got: reinstalled.peerId })])
    expect(logged(m, 'unlisted').filter(l => l.level >= 30)).toEqual([])
    const out = await m.fst(0, ['peers'])
    expect(out.stdout).toMatch(new RegExp(`^${entry} +key changed `, 'm'))
  })
})
