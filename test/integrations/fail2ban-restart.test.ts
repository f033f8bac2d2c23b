import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Fail2ban, shippedFail2banMesh } from '../utils/fail2ban.js'
import { leftoverNamespaces, type NetnsMesh } from '../utils/netns.js'

const JAIL = 'sshd'
// longer than the test: every ban is still running when fail2ban restarts
const BANTIME = 3600

/**
 * Issue 27: a fail2ban restart on host 1, whose jail firewalls with nftables and reports with the shipped
 * fst action, and keeps its bans in a database file. The stop flushes the jail and the start restores its
 * bans: the firewall set holds them again, and the fst action is called for neither half (0.1.0's action
 * published an unban for every ban at the stop and a ban again at the start). Host 2 keeps them all.
 * A ban detected after the restart still reaches host 2.
 */
describe('a fail2ban restart with the shipped fst action', () => {
  let mesh: NetnsMesh
  let f2b: Fail2ban[] = []

  beforeAll(async () => {
    ({ mesh, f2b } = await shippedFail2banMesh(2, JAIL, () => BANTIME, { persist: true, firewall: true }))
  })
  afterAll(async () => {
    await Promise.all((f2b ?? []).map(f => f.stop()))
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  const fleetBanned = async (ips: string[]) => (await Promise.all(f2b.map(f => Promise.all(ips.map(ip => f.banned(JAIL, ip)))))).flat().every(Boolean)
  const firewall = async () => (await mesh.exec(1, 'nft', ['list', 'set', 'inet', 'f2b-table', `addr-set-${JAIL}`])).stdout

  it('restores the jail\'s bans without calling the hook, and reports a new ban after it', async () => {
    const first = [200, 201, 202].map(i => `10.77.${mesh.run}.${i}`)
    // detected by host 1's jail (three failed logins each), published once each, applied by host 2's fail2ban
    for (const ip of first) f2b[0]!.failedLogins(ip, 3)
    await pWaitFor(() => fleetBanned(first), { interval: 100, timeout: 30_000 })
    await mesh.settle()
    const before = await Promise.all([1, 2].map(i => mesh.status(i)))
    expect(before.map(s => s.messages.published)).toEqual([3, 0])
    expect(before.map(s => s.ledger.active)).toEqual([3, 3])
    for (const ip of first) expect(await firewall()).toContain(ip)

    await f2b[0]!.restart()
    // the jail is back with its three bans, restored from the database (after the server answers), and so is
    // its firewall set
    await pWaitFor(() => f2b[0]!.logLines('Restore Ban').length >= 3, { interval: 100, timeout: 30_000 })
    await pWaitFor(async () => (await Promise.all(first.map(ip => f2b[0]!.banned(JAIL, ip)))).every(Boolean), { interval: 100, timeout: 30_000 })
    await pWaitFor(async () => { const set = await firewall(); return first.every(ip => set.includes(ip)) }, { interval: 100, timeout: 30_000 })

    // a new attack after the restart: its ticket queues behind the restored ones in the jail's one actions
    // thread, so once its report arrived every restored ban has been through the actions too
    const next = `10.77.${mesh.run}.203`
    f2b[0]!.failedLogins(next, 3)
    await pWaitFor(() => fleetBanned([next]), { interval: 100, timeout: 30_000 })
    await mesh.settle()
    const after = await Promise.all([1, 2].map(i => mesh.status(i)))
    // one message more (the new ban); no unban from the stop, no echo of a restored ban
    expect(after.map(s => s.messages.published)).toEqual([4, 0])
    expect(after[0]!.messages.suppressed).toBe(before[0]!.messages.suppressed)
    expect(after.map(s => s.ledger.active)).toEqual([4, 4])
    expect((await mesh.list(2, true)).filter(e => e.action !== 'ban')).toEqual([])
    expect(await firewall()).toContain(next)
    expect(f2b[0]!.logLines('Restore Ban')).toHaveLength(3)
  })
})
