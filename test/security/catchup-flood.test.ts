import type { LedgerEntry } from '@fst/protocol'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences } from '../utils/defences.js'
import type { Mesh } from '../utils/mesh.js'
import { meshWithRogueMember, type Rogue } from '../utils/rogue.js'
import { serveForgedCatchup, signedPages } from '../utils/rogue-catchup.js'
import { rssMb } from '../bench/stats.js'

const OFFERED = 500_000
const MAX_PER_ORIGIN = 5000
const MAX_PER_PULL = 20_000


/**
 * Issue 19 acceptance, bounds: a listed peer gone rogue offers 500,000 validly signed bans of its own by
 * catch-up, on every pull. Node 0 reads at most `maxEntriesPerPull` per pull and holds at most
 * `maxActivePerOrigin` of that origin's bans; both refusals are counted; its memory stays bounded; and an
 * honest ban from node 1 still runs on node 0 within a second.
 */
describe('catch-up flood: bounds per origin and per pull', () => {
  let mesh: Mesh
  let rogue: Rogue
  let served: { sent: number, pulls: number, mostInOnePull: number }

  beforeAll(async () => {
    ({ mesh, rogue } = await meshWithRogueMember({
      nodes: 2,
      config: () => ({ limits: { maxActivePerOrigin: MAX_PER_ORIGIN, maxEntriesPerPull: MAX_PER_PULL }, catchup: { intervalS: 2, timeoutS: 60 } })
    }, 0, async (_m, r) => {
      const issued = Date.now() - 1000
      function * flood (): Generator<LedgerEntry> {
        for (let i = 0; i < OFFERED; i++) {
          yield { action: 'ban', name: 'flood', protocol: 'tcp', port: '22', ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, time: issued, duration: 0, origin: r.peerId }
        }
      }
      served = await serveForgedCatchup(r, () => signedPages(r.key, flood()))
    }))
  })
  afterAll(async () => {
    await rogue?.stop()
    await mesh?.stop()
  })

  it('stays within the per-origin bound, counts the refusals, keeps its memory, and an honest ban runs in time', async () => {
    await pWaitFor(async () => {
      const d = (await defences(mesh, 0)).entries ?? {}
      return (d.pull_limit ?? 0) >= 2 && (d.origin_limit ?? 0) >= 1
    }, { interval: 200, timeout: 60_000 })
    const status = await mesh.status(0)
    expect(status.ledger.entries).toBeLessThanOrEqual(MAX_PER_ORIGIN)
    // each pull was cut at the bound: the rogue got to send at most the bound plus the frames in flight (the
    // client's credit of 2 and the one being written), never its 500,000
    expect(served.mostInOnePull).toBeLessThanOrEqual(MAX_PER_PULL + 3 * 2000)
    expect(rssMb(mesh.nodes[0]!.process!.pid!)!).toBeLessThan(400)

    // under the same attack (pulls every 2 s), an honest peer's ban still reaches node 0 within a second
    // (the rogue's bans within the bound are its own, validly signed: they run, in their own runner lane)
    expect((await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', '203.0.113.230'])).code).toBe(0)
    const published = Date.now()
    await pWaitFor(() => mesh.runs(0).includes('ban sshd tcp 22 203.0.113.230'), { interval: 20, timeout: 10_000 })
    expect(Date.now() - published).toBeLessThan(1000)
    expect((await mesh.status(0)).ledger.entries).toBeLessThanOrEqual(MAX_PER_ORIGIN + 1)
  })
})
