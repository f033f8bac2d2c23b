import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../utils/mesh.js'
import { FST_PORT, fstHostsAndAttacker, leftoverNamespaces, type NetnsMesh } from '../utils/netns.js'

const SCRIPT = join(ROOT, 'contrib/nftables/fst-nft.batch')
const BULK = 10_000

/** Elements of one set of table inet fst on a host. */
async function setElements (mesh: NetnsMesh, index: number, set: string): Promise<unknown[]> {
  const out = await mesh.exec(index, 'nft', ['-j', 'list', 'set', 'inet', 'fst', set])
  if (out.code !== 0) return []
  const doc = JSON.parse(out.stdout) as { nftables: Array<{ set?: { elem?: unknown[] } }> }
  return doc.nftables.find(x => x.set !== undefined)?.set?.elem ?? []
}

/** A bulk input line per address in 198.18.0.0/15 (RFC 2544 benchmarking range: never routed here). */
function bulkLines (count: number): string {
  return Array.from({ length: count }, (_, i) => `ban bench tcp 80 198.18.${Math.floor(i / 256)}.${i % 256} 3600\n`).join('')
}

/**
 * Issue 5, nftables: hosts 1-3 run FST with contrib/nftables/fst-nft.batch as their ban.d and unban.d;
 * host 4 is an attacker without FST. A ban reported on host 1 makes hosts 2 and 3 drop the attacker's
 * traffic; the unban lets it through again. Then 10,000 received bans are timed into the set.
 */
describe('nftables action set in namespaces', () => {
  let mesh: NetnsMesh

  beforeAll(async () => {
    mesh = await fstHostsAndAttacker('50-nftables.batch', SCRIPT)
  })
  afterAll(async () => {
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  it('drops a banned host\'s traffic on the receiving hosts and lets it through after the unban', async () => {
    const attacker = mesh.addr(4)
    for (const target of [1, 2, 3]) expect(await mesh.tcpConnects(4, mesh.addr(target), FST_PORT)).toBe(true)

    expect((await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', attacker, '600'])).code).toBe(0)
    expect((await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', '2001:db8:77::/48', '600'])).code).toBe(0)
    await pWaitFor(async () => (await setElements(mesh, 2, 'banned4')).length === 1 && (await setElements(mesh, 3, 'banned4')).length === 1, { interval: 50, timeout: 10_000 })
    expect(await mesh.tcpConnects(4, mesh.addr(2), FST_PORT, 700)).toBe(false)
    expect(await mesh.tcpConnects(4, mesh.addr(3), FST_PORT, 700)).toBe(false)
    // the origin does not run its own report (fail2ban acted there already)
    expect(await mesh.tcpConnects(4, mesh.addr(1), FST_PORT)).toBe(true)
    const listing = (await mesh.exec(2, 'nft', ['list', 'table', 'inet', 'fst'])).stdout
    expect(listing).toMatch(new RegExp(`${attacker.replaceAll('.', '\\.')} timeout 10m`))
    expect(listing).toContain('2001:db8:77::/48 timeout 10m')

    expect((await mesh.hook(1, ['unban', 'sshd', 'tcp', '22', attacker])).code).toBe(0)
    await pWaitFor(async () => (await setElements(mesh, 2, 'banned4')).length === 0 && (await setElements(mesh, 3, 'banned4')).length === 0, { interval: 50, timeout: 10_000 })
    expect(await mesh.tcpConnects(4, mesh.addr(2), FST_PORT)).toBe(true)
    expect(await mesh.tcpConnects(4, mesh.addr(3), FST_PORT)).toBe(true)
    console.log(`nftables: ${attacker} dropped by hosts 2 and 3 after a ban from host 1 (TCP connect fails), reachable again after the unban; IPv6 CIDR in banned6net`)
  })

  it(`applies ${BULK} received bans into the set`, async () => {
    const logBefore = mesh.host(2).log().length
    const started = performance.now()
    const published = await mesh.fst(1, ['publish', '--stdin'], bulkLines(BULK))
    expect(published.stdout).toContain(`${BULK} accepted`)
    const handedOver = performance.now()
    await pWaitFor(async () => (await setElements(mesh, 2, 'banned4')).length === BULK, { interval: 250, timeout: 60_000 })
    const applied = performance.now()
    await mesh.settle()
    // the runner logs every script run with its duration: the nft work itself
    const runs = mesh.host(2).log().slice(logBefore).split('\n').filter(l => l.includes('"script ran"') && l.includes('"action":"ban"') && l.includes('"events"'))
      .map(l => JSON.parse(l) as { events: number, ms: number })
    const bulkRuns = runs
    const scriptMs = bulkRuns.reduce((sum, r) => sum + r.ms, 0)
    expect(bulkRuns.reduce((sum, r) => sum + r.events, 0)).toBe(BULK)
    expect((await setElements(mesh, 3, 'banned4')).length).toBe(BULK)
    // the script alone, fed the same 10,000 lines on host 4 (no FST there): the nft part of the cost
    const lines = bulkLines(BULK).replaceAll(/^ban /gm, '')
    const env = { PATH: process.env.PATH, FST_ACTION: 'ban' }
    const t0 = performance.now()
    expect((await mesh.exec(4, SCRIPT, [], { input: lines, env })).code).toBe(0)
    const scriptBan = performance.now() - t0
    expect(await setElements(mesh, 4, 'banned4')).toHaveLength(BULK)
    const t1 = performance.now()
    expect((await mesh.exec(4, SCRIPT, [], { input: lines, env: { ...env, FST_ACTION: 'unban' } })).code).toBe(0)
    const scriptUnban = performance.now() - t1
    expect(await setElements(mesh, 4, 'banned4')).toHaveLength(0)
    console.log(`nftables: script alone: ${BULK} bans in ${Math.round(scriptBan)} ms, ${BULK} unbans in ${Math.round(scriptUnban)} ms (one nft -f each)`)
    console.log(`nftables: ${BULK} bans: hook side ${Math.round(handedOver - started)} ms, in host 2's set after ${Math.round(applied - started)} ms; ${bulkRuns.length} nft batch runs took ${scriptMs} ms in total`)
  })
})
