import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ListedEntry, Mesh, run } from '../utils/mesh.js'

/** The record script also writes the protocol and port the runner put in the environment. */
const RECORD_ENV = `#!/bin/sh
printf '%s %s env=%s/%s\\n' "$FST_ACTION" "$*" "$FST_PROTOCOL" "$FST_PORT" >> ../../runs.log
`

/**
 * Issue 18: the seed's example line, `fst ban` / `fst unban`, `fst import` / `fst export`, across three
 * `fst start` processes on 127.0.0.1. Node 0 gives `fst ban` a configured default duration of 20 minutes.
 */
describe('fst ban, unban, import, export and the seed\'s example', () => {
  let mesh: Mesh
  const dir = mkdtempSync(join(tmpdir(), 'fst-commands-'))
  const byIp = (entries: ListedEntry[], ip: string) => entries.filter(e => e.ip === ip)

  beforeAll(async () => {
    mesh = await Mesh.create({ nodes: 3, actions: ['ban', 'unban'], config: i => ({ unbanAuthority: { mode: 'any' }, ...(i === 0 ? { defaultDurationS: 1200 } : {}) }) })
    for (const i of [1, 2]) {
      mesh.addScript(i, 'nullroute', '50-record', RECORD_ENV)
      mesh.addScript(i, 'unnullroute', '50-record', RECORD_ENV)
    }
  })
  afterAll(async () => {
    await mesh?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('runs the seed\'s `fst-action nullroute route IP null 198.51.100.9` on the other nodes, words lowercased', async () => {
    const hook = await mesh.hook(0, ['nullroute', 'route', 'IP', 'null', '198.51.100.9'])
    expect(hook).toMatchObject({ code: 0, stderr: '' })
    for (const i of [1, 2]) {
      expect(await mesh.waitForRuns(i, 1)).toEqual(['nullroute route ip null 198.51.100.9 env=ip/null'])
    }
    // no sixth field: the configured default duration, not forever
    const [entry] = byIp(await mesh.list(1), '198.51.100.9')
    expect(entry).toMatchObject({ action: 'nullroute', protocol: 'ip', port: 'null', duration: 1200 })
  })

  it('fst ban: the manual fields, the default duration of the config, --duration with a unit', async () => {
    const plain = await mesh.fst(0, ['ban', '203.0.113.10'])
    expect(plain).toMatchObject({ code: 0, stderr: '' })
    expect(plain.stdout).toMatch(/^ban 203\.0\.113\.10 \(manual, 20m\) published/)
    expect((await mesh.fst(0, ['ban', '2001:db8::10', '--duration', '2h', '--name', 'ops'])).code).toBe(0)
    for (const i of [1, 2]) await mesh.waitForRuns(i, 3)
    expect(mesh.runs(1).slice(1).sort()).toEqual(['ban manual all 0:65535 203.0.113.10', 'ban ops all 0:65535 2001:db8::10'])
    const listed = await mesh.list(2)
    expect(byIp(listed, '203.0.113.10')[0]).toMatchObject({ name: 'manual', duration: 1200 })
    expect(byIp(listed, '2001:db8::10')[0]).toMatchObject({ name: 'ops', duration: 7200 })
    // a second ban of the same address and name changes nothing, and says so
    const again = await mesh.fst(0, ['ban', '203.0.113.10'])
    expect(again).toMatchObject({ code: 0 })
    expect(again.stdout).toMatch(/already under ban/)
  })

  it('fst ban warns when this server has no folder for the action, and still publishes', async () => {
    const typo = await mesh.fst(0, ['ban', '203.0.113.11', '--action', 'blok'])
    expect(typo.code).toBe(0)
    expect(typo.stderr).toMatch(/^fst: warning: no .*actions\/blok\.d on this server/)
    expect(await pWaitFor(async () => byIp(await mesh.list(1), '203.0.113.11').length === 1, { interval: 50, timeout: 10_000 }).then(() => true)).toBe(true)
  })

  it('fst unban lifts every name holding the address on every node; a second time there is nothing to unban', async () => {
    expect((await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', '203.0.113.10', '600'])).code).toBe(0)
    await pWaitFor(async () => byIp(await mesh.list(0), '203.0.113.10').length === 2, { interval: 50, timeout: 10_000 })
    // nullroute, two bans of fst ban, the sshd ban just published
    const before = (await mesh.waitForRuns(2, 4)).length
    const unban = await mesh.fst(0, ['unban', '203.0.113.10'])
    expect(unban).toMatchObject({ code: 0, stderr: '' })
    expect(unban.stdout).toMatch(/^unban 203\.0\.113\.10 published \((manual, sshd|sshd, manual)\)/)
    const runs = await mesh.waitForRuns(2, before + 2)
    expect(runs.slice(before).sort()).toEqual(['unban manual all 0:65535 203.0.113.10', 'unban sshd tcp 22 203.0.113.10'])
    for (const i of [0, 1, 2]) {
      await pWaitFor(async () => byIp(await mesh.list(i), '203.0.113.10').length === 0, { interval: 50, timeout: 10_000 })
    }
    const twice = await mesh.fst(0, ['unban', '203.0.113.10'])
    expect(twice.code).toBe(1)
    expect(twice.stderr).toMatch(/^fst: nothing to unban: no active ban of 203\.0\.113\.10/)
  })

  it('fst import publishes a plain list; fst export gives it back as text, JSON and nftables sets', async () => {
    const list = join(dir, 'drop.txt')
    writeFileSync(list, '# a published blocklist\n198.51.100.0/24 ; SBL1\n198.51.100.7\n\n203.0.113.20\n203.0.113.20 # twice\n2001:db8:20::/48\n')
    const imported = await mesh.fst(0, ['import', list, '--name', 'drop', '--duration', '1d'])
    expect(imported).toMatchObject({ code: 0, stderr: '' })
    expect(imported.stdout).toMatch(/4 published, 0 already banned, 0 refused/)
    await pWaitFor(async () => (await mesh.list(2)).filter(e => e.name === 'drop').length === 4, { interval: 50, timeout: 10_000 })
    expect((await mesh.list(2)).filter(e => e.name === 'drop').every(e => e.duration === 86_400)).toBe(true)

    const text = await mesh.fst(2, ['export', '--name', 'drop'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout.split('\n').filter(l => l !== '' && !l.startsWith('#')).sort()).toEqual(['198.51.100.0/24', '198.51.100.7', '2001:db8:20::/48', '203.0.113.20'])
    // what export wrote, import reads back: all four already banned
    writeFileSync(join(dir, 'back.txt'), text.stdout)
    expect((await mesh.fst(1, ['import', join(dir, 'back.txt'), '--name', 'drop', '--duration', '1d'])).stdout).toMatch(/0 published, 4 already banned/)

    const json = JSON.parse((await mesh.fst(2, ['export', '--format', 'json', '--name', 'drop'])).stdout) as ListedEntry[]
    expect(json.map(e => e.ip).sort()).toEqual(['198.51.100.0/24', '198.51.100.7', '2001:db8:20::/48', '203.0.113.20'])

    const nft = await mesh.fst(2, ['export', '--format', 'nft'])
    expect(nft.code, nft.stderr).toBe(0)
    expect(nft.stdout).toMatch(/set fst4 \{[^}]*type ipv4_addr[^}]*198\.51\.100\.0\/24 timeout \d+s/)
    expect(nft.stdout).toMatch(/set fst6 \{[^}]*2001:db8:20::\/48 timeout \d+s/)
    // nft itself accepts it, the /24 and an address inside it included (check mode: the ruleset is not touched)
    const file = join(dir, 'fst.nft')
    writeFileSync(file, `table inet fsttest {\n${nft.stdout}}\n`)
    const checked = await run('nft', ['-c', '-f', file])
    expect(checked.code, checked.stderr).toBe(0)
  })
})
