import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Mesh } from '../utils/mesh.js'
import { meshWithRogueMember, type Rogue } from '../utils/rogue.js'
import { serveForgedCatchup, signedPages } from '../utils/rogue-catchup.js'

/**
 * Issue 24, the 60-minute soak: a node that had just restarted answered 16 queued reports 1.7 s after its
 * start, while its connections were still forming. Its gossip reached the peers whose subscriptions it knew;
 * two peers had already pulled from it at connect, before those reports existed, and got them only minutes
 * later (bans of 30-60 s never ran there). A connect is therefore followed by a second pull once the link
 * has settled. Here a listed member (the rogue) has nothing at node 0's connect pull, then a ban it never
 * gossips: only a later pull brings it, and the periodic one is 300 s away.
 */
describe('a pull after the connect settles', () => {
  let mesh: Mesh
  let rogue: Rogue
  const bannedAt = Date.now()
  let pulls: () => number

  beforeAll(async () => {
    ({ mesh, rogue } = await meshWithRogueMember({ nodes: 2 }, 0, async (_m, r) => {
      // the pulls of the connect (one per connection and start-up path, all within a moment) find nothing;
      // a pull from 3 s after the first one finds the ban published meanwhile
      let firstPull: number | null = null
      const ban = { action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.60', time: bannedAt, duration: 600, origin: r.peerId }
      const stats = await serveForgedCatchup(r, () => {
        firstPull ??= performance.now()
        return performance.now() - firstPull < 3000 ? [] : signedPages(r.key, [ban])
      })
      pulls = () => stats.pulls
    }))
  })
  afterAll(async () => {
    await rogue?.stop()
    await mesh?.stop()
  })

  it('brings what a peer published between the connect pull and its gossip reaching us, within seconds', async () => {
    await pWaitFor(() => mesh.runs(0).some(l => l.includes('203.0.113.60')), { interval: 50, timeout: 30_000 }).catch(() => {
      throw new Error(`the ban did not run on node 0 after ${pulls()} pulls: ${JSON.stringify(mesh.runs(0))}`)
    })
    expect(pulls()).toBeGreaterThanOrEqual(2)
    expect((await mesh.list(0)).filter(e => e.ip === '203.0.113.60')).toHaveLength(1)
  }, 60_000)
})
