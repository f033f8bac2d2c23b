import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Fail2ban, shippedFail2banMesh } from '../utils/fail2ban.js'
import { leftoverNamespaces, type NetnsMesh } from '../utils/netns.js'

const JAIL = 'sshd'
/** Each host's own bantime for the jail, as a real fleet has them: host 2's runs out long before the others'. */
const BANTIMES = [20, 4, 20]

/**
 * Issue 24, item 5: a received ban goes into the receiving host's same-named jail with that host's bantime.
 * When host 2's shorter bantime runs out, its fst action calls the hook with `unban`; before, the node
 * published that as the fleet's unban and host 3 lifted the ban early (every ledger: `unban … from <host 2>`).
 * Now a local unban of a ban received from another origin stays local: host 3 keeps the ban, every ledger
 * keeps host 1's ban until host 1's own bantime, and then host 1's unban reaches everyone.
 */
describe('fail2ban with mismatched bantimes across hosts', () => {
  let mesh: NetnsMesh
  let f2b: Fail2ban[] = []

  beforeAll(async () => {
    ({ mesh, f2b } = await shippedFail2banMesh(3, JAIL, i => BANTIMES[i - 1]!))
  })
  afterAll(async () => {
    await Promise.all((f2b ?? []).map(f => f.stop()))
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  it('lifts the ban nowhere early when one host\'s jail has a shorter bantime, and everywhere at the origin\'s', async () => {
    const attacker = `10.77.${mesh.run}.201`
    f2b[0]!.failedLogins(attacker, 3)
    await pWaitFor(async () => (await Promise.all(f2b.map(f => f.banned(JAIL, attacker)))).every(Boolean), { interval: 100, timeout: 15_000 })
    const origin = (await mesh.status(1)).peerId
    // host 2's jail lets it go after 4 s, and its fst action calls the hook with unban: suppressed there, after
    // the echo of the ban itself (the first suppressed call)
    await pWaitFor(async () => !(await f2b[1]!.banned(JAIL, attacker)), { interval: 100, timeout: 30_000 })
    await pWaitFor(async () => (await mesh.status(2)).messages.suppressed >= 2, { interval: 50, timeout: 20_000 })
    await mesh.settle()
    const after = await Promise.all([1, 2, 3].map(i => mesh.status(i)))
    expect(after.map(s => s.messages.published)).toEqual([1, 0, 0])
    expect(after.map(s => s.ledger.active)).toEqual([1, 1, 1])
    expect(await f2b[2]!.banned(JAIL, attacker)).toBe(true)
    for (const i of [1, 2, 3]) {
      expect((await mesh.list(i)).filter(e => e.ip === attacker).map(e => [e.action, e.origin])).toEqual([['ban', origin]])
    }

    // host 1's own bantime: its unban is the fleet's, and every ledger says so
    await pWaitFor(async () => !(await f2b[2]!.banned(JAIL, attacker)), { interval: 200, timeout: 60_000 })
    await mesh.settle()
    for (const i of [1, 2, 3]) {
      await pWaitFor(async () => (await mesh.list(i, true)).some(e => e.ip === attacker && e.action === 'unban'), { interval: 100, timeout: 10_000 })
      expect((await mesh.list(i, true)).filter(e => e.ip === attacker).map(e => [e.action, e.origin])).toEqual([['unban', origin]])
    }
    expect(await f2b[0]!.banned(JAIL, attacker)).toBe(false)
  })
})
