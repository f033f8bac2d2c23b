import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Fail2ban, shippedFail2banMesh } from '../utils/fail2ban.js'
import { leftoverNamespaces, type NetnsMesh } from '../utils/netns.js'

const JAIL = 'sshd'
// long enough that the ban is still standing everywhere when the counters are read after it
const BANTIME = 5

/**
 * Issue 5: three hosts, each with an FST node and its own fail2ban whose sshd jail carries the fst action.
 * Failed logins on host 1 ban there, the hook publishes once, hosts 2 and 3 ban through fail2ban-client
 * (whose fst action calls the hook again: the echo must not reach the mesh), and the unban after bantime
 * reaches everyone.
 */
describe('fail2ban end to end in namespaces', () => {
  let mesh: NetnsMesh
  let f2b: Fail2ban[] = []

  beforeAll(async () => {
    ({ mesh, f2b } = await shippedFail2banMesh(3, JAIL, () => BANTIME))
  })
  afterAll(async () => {
    await Promise.all((f2b ?? []).map(f => f.stop()))
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  it('bans on every host from one report, with one mesh message, and unbans everywhere after bantime', async () => {
    const attacker = `10.77.${mesh.run}.200`
    f2b[0]!.failedLogins(attacker, 3)
    await pWaitFor(async () => (await Promise.all(f2b.map(f => f.banned(JAIL, attacker)))).every(Boolean), { interval: 100, timeout: 15_000 })
    await mesh.settle()
    const afterBan = await Promise.all([1, 2, 3].map(i => mesh.status(i)))
    expect(afterBan.map(s => s.messages.published)).toEqual([1, 0, 0])
    expect(afterBan.map(s => s.messages.accepted)).toEqual([0, 1, 1])
    // the fst action of hosts 2 and 3 did call the hook for the received ban: suppressed, not published
    expect(afterBan.map(s => s.messages.suppressed)).toEqual([0, 1, 1])
    for (const s of afterBan) expect(s.ledger.active).toBe(1)

    await pWaitFor(async () => (await Promise.all(f2b.map(f => f.banned(JAIL, attacker)))).every(b => !b), { interval: 200, timeout: 20_000 })
    await mesh.settle()
    const afterUnban = await Promise.all([1, 2, 3].map(i => mesh.status(i)))
    expect(afterUnban.map(s => s.ledger.active)).toEqual([0, 0, 0])
    // one ban report and one unban report from host 1; the echoes of hosts 2 and 3 published nothing
    expect(afterUnban.map(s => s.messages.published)).toEqual([2, 0, 0])
    expect(afterUnban.map(s => s.messages.accepted)).toEqual([0, 2, 2])
    console.log(`fail2ban (shipped fst.conf, ban.d, unban.d): ${attacker} banned by host 1's jail reached hosts 2 and 3 (fail2ban banned=1), 1 message per report, unban after ${BANTIME}s reached all three`)
  })
})
