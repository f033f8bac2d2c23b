import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences } from '../utils/defences.js'
import type { Mesh } from '../utils/mesh.js'
import { meshWithRogueMember, type Rogue, wireMessage } from '../utils/rogue.js'

/**
 * Replays: a listed peer gone rogue captures the exact signed bytes of a ban and sends them again. Inside the
 * seen-cache lifetime gossipsub drops them as duplicates; once node 1 has forgotten them (restart) and the
 * freshness window (1 s here) has passed, the validator ignores them as stale. Either way nothing runs again.
 */
describe('replayed messages', () => {
  let mesh: Mesh
  let rogue: Rogue

  beforeAll(async () => {
    ({ mesh, rogue } = await meshWithRogueMember({
      nodes: 2,
      config: () => ({ freshness: { maxAgeS: 1, maxSkewS: 5 }, reapplyOnStart: false })
    }, 1))
  })
  afterAll(async () => {
    await rogue?.stop()
    await mesh?.stop()
  })

  it('runs a captured message once, however often and however late it is replayed', async () => {
    const issued = Date.now()
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.140'])).code).toBe(0)
    expect(await mesh.waitForRuns(1, 1)).toEqual(['ban sshd tcp 22 203.0.113.140'])
    await pWaitFor(() => rogue.captured.some(m => new TextDecoder().decode(m.data).includes('203.0.113.140')), { interval: 20, timeout: 10_000 })
    const captured = rogue.captured.find(m => new TextDecoder().decode(m.data).includes('203.0.113.140'))!
    const node1 = (await mesh.status(1)).peerId

    // at once: a duplicate for gossipsub, never reaching the validator
    rogue.sendRaw(node1, [captured, captured])
    // after a restart node 1's seen cache is empty; by then the event is older than the window
    await mesh.stopNode(1)
    await mesh.startNode(1)
    await rogue.waitSubscriber(node1, 20_000)
    await pWaitFor(() => Date.now() - issued > 1500, { interval: 50, timeout: 5000 })
    const before = await defences(mesh, 1)
    rogue.sendRaw(node1, [captured])
    rogue.sendRaw(node1, [await rogue.sign(wireMessage([['ban', 'barrier', 'tcp', '22', '203.0.113.141']]))])
    expect(await mesh.waitForRuns(1, 2)).toEqual(['ban sshd tcp 22 203.0.113.140', 'ban barrier tcp 22 203.0.113.141'])
    const after = await defences(mesh, 1)
    expect((after.rejected.stale ?? 0) - (before.rejected.stale ?? 0)).toBe(1)
  })
})
