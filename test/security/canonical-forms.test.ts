import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences } from '../utils/defences.js'
import type { Mesh } from '../utils/mesh.js'
import { meshWithRogueMember, type Rogue, wireMessage } from '../utils/rogue.js'
import { serveForgedCatchup, signedPages } from '../utils/rogue-catchup.js'

/**
 * Issue 24, small protocol truths an independent client found: a removal with a duration and a port with
 * leading zeros were handed to scripts as sent (`FST_DURATION=60`, `022`), and `fst status` said `0 accepted`
 * after catch-up had applied an entry. Release 0.1.0 itself publishes both forms (its hook passed a removal's
 * duration and `022` on), so a newer node must accept them from the wire during a rolling upgrade: it keeps
 * the entry as signed (same digests and proofs as 0.1.0 nodes) and gives scripts the canonical form.
 * The rogue is a listed member speaking straight onto the mesh and serving catch-up.
 */
describe('canonical forms of received removals and ports, and catch-up in fst status', () => {
  let mesh: Mesh
  let rogue: Rogue
  const caughtUpAt = Date.now() - 1000

  beforeAll(async () => {
    ({ mesh, rogue } = await meshWithRogueMember({ nodes: 2, batchScripts: true, actions: ['ban', 'unban'] }, 0, async (_m, r) => {
      // what catch-up alone brings: a ban with port 022, as a 0.1.0 node's ledger may hold it
      await serveForgedCatchup(r, () => signedPages(r.key, [{ action: 'ban', name: 'sshd', protocol: 'tcp', port: '022', ip: '203.0.113.40', time: caughtUpAt, duration: 600, origin: r.peerId }]))
    }))
  })
  afterAll(async () => {
    await rogue?.stop()
    await mesh?.stop()
  })

  it('counts what catch-up applied in fst status and runs it with the canonical port', async () => {
    await pWaitFor(() => mesh.runs(0).some(l => l.includes('203.0.113.40')), { interval: 50, timeout: 20_000 }).catch(() => {
      throw new Error(`catch-up's ban did not run on node 0: ${JSON.stringify(mesh.runs(0))}`)
    })
    const status = await mesh.status(0)
    expect(status.messages.accepted).toBe(0)
    expect(status.catchup).toEqual({ applied: 1 })
    const text = await mesh.fst(0, ['status'])
    expect(text.stdout).toMatch(/^catch-up: 1 entries applied/m)
    expect(mesh.runs(0)).toEqual(['ban sshd tcp 22 203.0.113.40 600'])
    // kept as its origin signed it
    expect((await mesh.list(0)).find(e => e.ip === '203.0.113.40')).toMatchObject({ port: '022', duration: 600 })
  })

  it('accepts a gossiped unban with duration 60 and a ban with port 022, and scripts see duration 0 and port 22', async () => {
    const before = await defences(mesh, 0)
    const time = Date.now()
    rogue.sendRaw((await mesh.status(0)).peerId, [
      await rogue.sign(wireMessage([['ban', 'sshd', 'tcp', '022', '203.0.113.50', time, 600]])),
      await rogue.sign(wireMessage([['unban', 'sshd', 'tcp', '22', '203.0.113.50', time + 1, 60]]))
    ])
    for (const i of [0, 1]) {
      await pWaitFor(() => mesh.runs(i).some(l => l.startsWith('unban sshd tcp 22 203.0.113.50')), { interval: 50, timeout: 10_000 }).catch(() => {
        throw new Error(`node ${i} ran no unban: ${JSON.stringify(mesh.runs(i))}`)
      })
      expect(mesh.runs(i).filter(l => l.includes('203.0.113.50'))).toEqual(['ban sshd tcp 22 203.0.113.50 600', 'unban sshd tcp 22 203.0.113.50 0'])
    }
    // a 0.1.0 node sends both forms: not refused (rolling upgrade), stored as signed
    expect((await defences(mesh, 0)).rejected).toEqual(before.rejected)
    expect((await mesh.list(0, true)).find(e => e.ip === '203.0.113.50')).toMatchObject({ action: 'unban', duration: 60 })
    expect((await mesh.status(0)).messages.accepted).toBe(2)
  })
})
