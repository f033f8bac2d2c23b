import { peerIdFromString } from '@libp2p/peer-id'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences, peerScore, waitScoreBelow } from '../utils/defences.js'
import { freePort, Mesh } from '../utils/mesh.js'
import { newKey, Rogue, wireMessage } from '../utils/rogue.js'

const ROGUES = 6

/**
 * Issue 3 acceptance, hostile messages: listed peers gone rogue publish what an honest node never would,
 * straight onto the mesh (no hook, no origin checks). Node 0 must run nothing for any of it, Reject it with a
 * counted reason, and lower the sender's gossipsub score. Each rogue ends with a valid ban as a barrier: it
 * travels the same stream after the attack, so once it ran, the attack was processed.
 */
describe('hostile messages from listed peers', () => {
  let mesh: Mesh
  const rogues: Rogue[] = []
  let node0 = ''

  beforeAll(async () => {
    const keys = await Promise.all(Array.from({ length: ROGUES }, () => newKey()))
    const ports = await Promise.all(keys.map(() => freePort()))
    mesh = await Mesh.create({
      nodes: 2,
      start: false,
      config: () => ({ ignore: ['192.0.2.0/24', '2001:db8:ffff::/48'] }),
      peersFile: nodes => [
        ...nodes.map(n => `127.0.0.1:${n.port}`),
        ...keys.map((k, i) => `${k.peerId}@127.0.0.1:${ports[i]}`)
      ].join('\n')
    })
    for (const [i, k] of keys.entries()) rogues.push(await Rogue.create({ key: k.key, port: ports[i] }))
    await mesh.startAll()
    node0 = (await mesh.status(0)).peerId
    await Promise.all(rogues.map(r => r.waitSubscriber(node0, 20_000)))
  })
  afterAll(async () => {
    await Promise.all(rogues.map(r => r.stop()))
    await mesh?.stop()
  })

  /** Sends raw messages to node 0 only, then a valid ban from the same rogue; returns once that ran. */
  async function attack (rogue: Rogue, bodies: Array<string | Uint8Array>, barrierIp: string): Promise<void> {
    const before = mesh.runs(0).length
    rogue.sendRaw(node0, await Promise.all(bodies.map(b => rogue.sign(b))))
    rogue.sendRaw(node0, [await rogue.sign(wireMessage([['ban', 'barrier', 'tcp', '22', barrierIp]]))])
    await mesh.waitForRuns(0, before + 1)
  }

  it('rejects bans of protected addresses and over-wide ranges published directly', async () => {
    const start = await defences(mesh, 0)
    const protectedIps = ['127.0.0.1', '::1', '127.1.0.0/16', '192.0.2.55', '192.0.2.0/25', '192.0.0.0/16']
    await attack(rogues[0]!, protectedIps.map(ip => wireMessage([['ban', 'sshd', 'tcp', '22', ip]])), '203.0.113.1')
    const wide = ['0.0.0.0/0', '::/0', '10.0.0.0/8', '2001:db8:ffff:1::/64']
    await attack(rogues[1]!, wide.map(ip => wireMessage([['ban', 'sshd', 'tcp', '22', ip]])), '203.0.113.2')
    expect(mesh.runs(0)).toEqual(['ban barrier tcp 22 203.0.113.1', 'ban barrier tcp 22 203.0.113.2'])
    const after = await defences(mesh, 0)
    // 10.0.0.0/8 is too wide; 2001:db8:ffff:1::/64 lies inside the ignored 2001:db8:ffff::/48
    expect((after.rejected.protected_address ?? 0) - (start.rejected.protected_address ?? 0)).toBe(protectedIps.length + 1)
    expect((after.rejected.prefix_too_short ?? 0) - (start.rejected.prefix_too_short ?? 0)).toBe(3)
    // Reject penalises the sender: P4 = -(invalid deliveries)^2
    expect(await waitScoreBelow(mesh, 0, rogues[0]!.peerId, -9)).toBeLessThanOrEqual(-9)
    expect(await waitScoreBelow(mesh, 0, rogues[1]!.peerId, -9)).toBeLessThanOrEqual(-9)
    // node 0 forwards only what it accepted: node 1 ran the barriers, nothing else
    expect(mesh.runs(1).every(l => l.startsWith('ban barrier '))).toBe(true)
  })

  it('rejects path traversal and shell metacharacters in actions, names, ports and addresses', async () => {
    const start = await defences(mesh, 0)
    const bad: Array<[unknown, unknown, unknown, unknown, unknown]> = [
      ['../../bin', 'sshd', 'tcp', '22', '203.0.113.10'],
      ['ban;id', 'sshd', 'tcp', '22', '203.0.113.10'],
      ['$(id)', 'sshd', 'tcp', '22', '203.0.113.10'],
      ['ban\nid', 'sshd', 'tcp', '22', '203.0.113.10'],
      ['ban', 'ss\nhd', 'tcp', '22', '203.0.113.10'],
      ['ban', '`id`', 'tcp', '22; id', '203.0.113.10 ; id']
    ]
    await attack(rogues[2]!, bad.map(e => wireMessage([e])), '203.0.113.3')
    const also: Array<[unknown, unknown, unknown, unknown, unknown]> = [
      ['ban', 'sshd', 'tcp', '22', '203.0.113.10; rm -rf /'],
      ['ban', 'sshd', 'tcp', '$(id)', '203.0.113.10'],
      ['ban', 'sshd', 'tcp|id', '22', '203.0.113.10'],
      ['ban', { toString: 'x' }, 'tcp', '22', '203.0.113.10'],
      ['.hidden', 'sshd', 'tcp', '22', '203.0.113.10']
    ]
    await attack(rogues[3]!, also.map(e => wireMessage([e])), '203.0.113.4')
    expect(mesh.runs(0)).toEqual(expect.arrayContaining(['ban barrier tcp 22 203.0.113.3', 'ban barrier tcp 22 203.0.113.4']))
    expect(mesh.runs(0).filter(l => l.includes('203.0.113.10'))).toEqual([])
    const after = await defences(mesh, 0)
    const delta = (r: string) => (after.rejected[r] ?? 0) - (start.rejected[r] ?? 0)
    expect(delta('bad_action')).toBe(5)
    expect(delta('bad_name')).toBe(3)
    expect(delta('bad_address')).toBe(1)
    expect(delta('bad_port')).toBe(1)
    expect(delta('bad_protocol')).toBe(1)
  })

  it('rejects oversized and malformed messages, and ignores future-dated ones', async () => {
    const start = await defences(mesh, 0)
    const huge = wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.20']]).replace('"e"', `"pad":"${'x'.repeat(300 * 1024)}","e"`)
    await attack(rogues[4]!, [
      huge,
      'not json',
      new Uint8Array([0xff, 0xfe, 0x00]),
      JSON.stringify({ v: 2, e: [] }),
      wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.21', Date.now() + 3_600_000]])
    ], '203.0.113.5')
    expect(mesh.runs(0).filter(l => /203\.0\.113\.2[01]/.test(l))).toEqual([])
    const after = await defences(mesh, 0)
    const delta = (r: string) => (after.rejected[r] ?? 0) - (start.rejected[r] ?? 0)
    expect(delta('too_large')).toBe(1)
    expect(delta('bad_shape')).toBe(3)
    expect(delta('future')).toBe(1)
  })

  it('drops a forged signer and a foreign signature forwarded by a listed peer, penalising the forwarder', async () => {
    const forwarder = rogues[5]!
    const start = await defences(mesh, 0)
    const node1 = peerIdFromString((await mesh.status(1)).peerId)
    const outsider = await newKey()
    const body = wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.30']])
    const before = mesh.runs(0).length
    forwarder.sendRaw(node0, [
      // signed by the forwarder's key, claiming to be node 1: the signature does not verify
      await forwarder.sign(body, { from: node1 }),
      // correctly signed by a key nobody listed
      await forwarder.sign(body, { signer: outsider.key })
    ])
    forwarder.sendRaw(node0, [await forwarder.sign(wireMessage([['ban', 'barrier', 'tcp', '22', '203.0.113.6']]))])
    await mesh.waitForRuns(0, before + 1)
    expect(mesh.runs(0).filter(l => l.includes('203.0.113.30'))).toEqual([])
    const after = await defences(mesh, 0)
    expect((after.rejected.unlisted_signer ?? 0) - (start.rejected.unlisted_signer ?? 0)).toBe(1)
    // both count as invalid deliveries of the forwarder (the bad signature inside gossipsub itself)
    expect(await waitScoreBelow(mesh, 0, forwarder.peerId, -3)).toBeLessThanOrEqual(-3)
  })

  it('graylists a peer after enough rejected messages: what it sends next is dropped unread', async () => {
    const rogue = rogues[0]!
    const start = await defences(mesh, 0)
    const bodies = Array.from({ length: 10 }, (_, i) => wireMessage([['ban', 'sshd', 'tcp', '22', `127.0.0.${i + 2}`]]))
    rogue.sendRaw(node0, await Promise.all(bodies.map(b => rogue.sign(b))))
    await pWaitFor(async () => ((await defences(mesh, 0)).rejected.protected_address ?? 0) >= (start.rejected.protected_address ?? 0) + 10, { interval: 50, timeout: 10_000 })
    expect(await waitScoreBelow(mesh, 0, rogue.peerId, -81)).toBeLessThan(-80)
    rogue.sendRaw(node0, [await rogue.sign(wireMessage([['ban', 'sshd', 'tcp', '22', '203.0.113.40']]))])
    // a barrier from an honest peer on another connection, then the graylisted ban is still absent
    const before = mesh.runs(0).length
    expect((await mesh.hook(1, ['ban', 'barrier', 'tcp', '22', '203.0.113.7'])).code).toBe(0)
    await mesh.waitForRuns(0, before + 1)
    expect(mesh.runs(0).filter(l => l.includes('203.0.113.40'))).toEqual([])
    expect(await peerScore(mesh, 1, rogue.peerId)).toBeGreaterThan(-80)
  })
})
