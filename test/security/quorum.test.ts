import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences } from '../utils/defences.js'
import { Mesh } from '../utils/mesh.js'

/**
 * Policy "ban only after k distinct peers reported the same address within a window", k=2 for `ban`:
 * one report (from an honest node or a rogue) bans nothing; a second peer's report of the same address does.
 * `block` has no rule and serves as the barrier: once it ran, the earlier report was processed.
 */
describe('quorum: ban only after 2 distinct peers reported the address', () => {
  let mesh: Mesh

  beforeAll(async () => {
    mesh = await Mesh.create({
      nodes: 4,
      actions: ['ban', 'unban', 'block'],
      config: () => ({ quorum: { ban: { peers: 2, windowS: 600 } }, unbanAuthority: { mode: 'any' } })
    })
  })
  afterAll(async () => { await mesh?.stop() })

  it('holds a single report everywhere, and runs once a second peer reports the same address', async () => {
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.120'])).code).toBe(0)
    expect((await mesh.hook(0, ['block', 'web', 'tcp', '80', '203.0.113.121'])).code).toBe(0)
    for (const i of [1, 2, 3]) expect(await mesh.waitForRuns(i, 1)).toEqual(['block web tcp 80 203.0.113.121'])
    for (const i of [1, 2, 3]) expect((await defences(mesh, i)).held.ban).toBe(1)

    // the same peer reporting again is still one peer (its hook call changes nothing: already in its ledger)
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.120'])).code).toBe(0)

    // a second peer, another jail, the same address: quorum reached on every other node
    expect((await mesh.hook(1, ['ban', 'nginx', 'tcp', '443', '203.0.113.120'])).code).toBe(0)
    for (const i of [2, 3]) {
      expect(await mesh.waitForRuns(i, 2)).toEqual(['block web tcp 80 203.0.113.121', 'ban nginx tcp 443 203.0.113.120'])
    }
    // node 0 counts node 1's report with its own and runs it (a different jail: another ledger entry);
    // node 1 counted node 0's held report with its own, and does not run its own report
    await mesh.waitForRuns(0, 1)
    expect(mesh.runs(0)).toEqual(['ban nginx tcp 443 203.0.113.120'])
    expect((await mesh.hook(2, ['block', 'web', 'tcp', '80', '203.0.113.122'])).code).toBe(0)
    await mesh.waitForRuns(1, 2)
    expect(mesh.runs(1)).toEqual(['block web tcp 80 203.0.113.121', 'block web tcp 80 203.0.113.122'])
  })

  it('does not hold actions without a rule, nor unbans', async () => {
    expect((await mesh.fst(3, ['unban', '203.0.113.120', '--name', 'nginx'])).code).toBe(0)
    for (const i of [0, 1, 2]) await mesh.waitForRuns(i, mesh.runs(i).filter(l => !l.startsWith('unban')).length + 1)
    for (const i of [0, 1, 2]) expect(mesh.runs(i)).toContain('unban nginx tcp 443 203.0.113.120')
  })
})
