import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST_ACTION, ROOT } from '../utils/mesh.js'
import { FST_PORT, fstHostsAndAttacker, leftoverNamespaces, type NetnsMesh } from '../utils/netns.js'

const WRAPPER = join(ROOT, 'contrib/sshguard/fst-sshguard-backend')
const SET_ACTION = join(ROOT, 'contrib/sshguard/fst-sshguard-set.batch')
const LIBEXEC = '/usr/libexec/sshguard'
// long enough that the checks below, each a process started in a namespace (seconds on a loaded machine),
// finish before sshguard releases the block (BLOCK_TIME+1 .. 2×BLOCK_TIME+2 s after it)
const BLOCK_TIME = 8

/** Addresses in sshguard's own nft set on a host. */
async function attackers (mesh: NetnsMesh, index: number): Promise<string> {
  return (await mesh.exec(index, 'nft', ['list', 'set', 'ip', 'sshguard', 'attackers'])).stdout
}

/**
 * Issue 5, sshguard: every FST host runs the real sshguard pipeline (logtail | parser | blocker) with the
 * FST wrapper as its backend in front of sshg-fw-nft-sets; the launcher /usr/sbin/sshguard is not used
 * because it hard-codes /etc/sshguard/sshguard.conf (the pipeline below is what it runs). Failed logins on
 * host 1 make its sshguard block; the wrapper reports the ban; hosts 2 and 3 put it into their sshguard
 * set, and traffic from the attacker (host 4) is dropped there; sshguard's release unbans everywhere.
 */
describe('sshguard wrapper backend in namespaces', () => {
  let mesh: NetnsMesh
  const logs: string[] = []

  beforeAll(async () => {
    mesh = await fstHostsAndAttacker('50-sshguard.batch', SET_ACTION)
    for (const i of [1, 2, 3]) {
      const log = join(mesh.host(i).dir, 'auth.log')
      logs[i] = log
      writeFileSync(log, '')
      // spawnIn puts the pipeline in its own process group: the mesh teardown kills all of it
      const pipeline = `exec ${LIBEXEC}/sshg-logtail "$LOG" | ${LIBEXEC}/sshg-parser | ${LIBEXEC}/sshg-blocker -a 30 -p ${BLOCK_TIME} -s 1800 | ${WRAPPER}`
      mesh.spawnIn(i, 'sh', ['-c', pipeline], {
        env: { PATH: process.env.PATH, LOG: log, FST_HOOK: `${process.execPath} ${FST_ACTION} --config ${mesh.host(i).configFile}` }
      })
      // sshg-fw-nft-sets creates its tables when it starts
      await pWaitFor(async () => (await mesh.exec(i, 'nft', ['list', 'set', 'ip', 'sshguard', 'attackers'])).code === 0, { interval: 50, timeout: 10_000 })
    }
  })
  afterAll(async () => {
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  it('reports sshguard blocks to the mesh, enforces received bans in sshguard\'s set, and releases everywhere', async () => {
    const attacker = mesh.addr(4)
    expect(await mesh.tcpConnects(4, mesh.addr(2), FST_PORT)).toBe(true)
    // sshg-logtail starts at the end of the file: keep failing until sshguard notices (3 lines block)
    let port = 40000
    await pWaitFor(async () => {
      writeFileSync(logs[1]!, `Nov 25 16:40:00 h1 sshd[${port}]: Failed password for root from ${attacker} port ${port++} ssh2\n`, { flag: 'a' })
      return (await attackers(mesh, 1)).includes(attacker)
    }, { interval: 150, timeout: 20_000 })
    await pWaitFor(async () => (await attackers(mesh, 2)).includes(attacker) && (await attackers(mesh, 3)).includes(attacker), { interval: 50, timeout: 10_000 })
    expect(await mesh.tcpConnects(4, mesh.addr(2), FST_PORT, 700)).toBe(false)
    expect(await mesh.tcpConnects(4, mesh.addr(3), FST_PORT, 700)).toBe(false)
    const status = await mesh.status(1)
    expect(status.messages.published).toBe(1)

    // sshguard releases after BLOCK_TIME+1 .. 2×BLOCK_TIME+2 s; the wrapper reports the unban
    await pWaitFor(async () => !(await attackers(mesh, 1)).includes(attacker), { interval: 200, timeout: (2 * BLOCK_TIME + 2) * 1000 + 20_000 })
    await pWaitFor(async () => !(await attackers(mesh, 2)).includes(attacker) && !(await attackers(mesh, 3)).includes(attacker), { interval: 50, timeout: 10_000 })
    expect(await mesh.tcpConnects(4, mesh.addr(2), FST_PORT)).toBe(true)
    expect(await mesh.tcpConnects(4, mesh.addr(3), FST_PORT)).toBe(true)
    expect((await mesh.status(1)).messages.published).toBe(2)
    console.log(`sshguard: block of ${attacker} on host 1 reached sshguard's set on hosts 2 and 3 (traffic dropped), release unbanned it everywhere`)
  }, 120_000)
})
