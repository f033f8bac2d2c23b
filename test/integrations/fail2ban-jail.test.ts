import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../utils/mesh.js'
import { leftoverNamespaces, NetnsMesh } from '../utils/netns.js'

/** Debian's fail2ban configuration, which the shipped jail file builds on (%(action_)s, %(banaction_allports)s). */
const DEBIAN_F2B = '/etc/fail2ban'

/**
 * Issue 27: the shipped contrib/fail2ban files as README step 4 installs them (jail.d/fst.local,
 * action.d/fst.conf, filter.d/fst.conf) on top of Debian's own fail2ban configuration, loaded by a real
 * fail2ban-server in a namespace: both jails start, and neither the start nor a reload logs a warning
 * (it used to log `No filter set for jail fst` every time). The receiving jail holds a ban.
 */
describe('the shipped fail2ban jails on Debian\'s fail2ban', () => {
  let mesh: NetnsMesh
  let dir: string
  let sock: string
  let server: ReturnType<NetnsMesh['spawnIn']>
  const client = (args: string[]) => mesh.exec(1, 'fail2ban-client', ['-s', sock, ...args])

  beforeAll(async () => {
    mesh = await NetnsMesh.create({ hosts: 1, fstHosts: [], start: false })
    dir = join(mesh.host(1).dir, 'fail2ban')
    sock = join(dir, 'f2b.sock')
    mkdirSync(dir, { recursive: true })
    for (const name of ['fail2ban.conf', 'jail.conf', 'paths-common.conf', 'paths-debian.conf', 'action.d', 'filter.d']) cpSync(join(DEBIAN_F2B, name), join(dir, name), { recursive: true })
    mkdirSync(join(dir, 'jail.d'))
    // README step 4, into this config dir
    copyFileSync(join(ROOT, 'contrib/fail2ban/action.d/fst.conf'), join(dir, 'action.d/fst.conf'))
    copyFileSync(join(ROOT, 'contrib/fail2ban/filter.d/fst.conf'), join(dir, 'filter.d/fst.conf'))
    copyFileSync(join(ROOT, 'contrib/fail2ban/jail.d/fst.local'), join(dir, 'jail.d/fst.local'))
    // what differs on a test host: its own socket, log and database, an sshd log that exists, no journal
    writeFileSync(join(dir, 'fail2ban.local'), [
      '[Definition]', `logtarget = ${join(dir, 'fail2ban.log')}`, `socket = ${sock}`, `pidfile = ${join(dir, 'f2b.pid')}`, 'dbfile = :memory:', ''
    ].join('\n'))
    writeFileSync(join(dir, 'auth.log'), '')
    writeFileSync(join(dir, 'jail.d/zz-testhost.local'), ['[sshd]', `logpath = ${join(dir, 'auth.log')}`, 'backend = polling', ''].join('\n'))
    // the server keeps the caller's cwd (TESTBED.md): the host's folder
    server = mesh.spawnIn(1, 'fail2ban-server', ['-f', '-x', '-c', dir, '-s', sock, '-p', join(dir, 'f2b.pid')], { cwd: dir })
    let exited = false
    server.once('exit', () => { exited = true })
    await pWaitFor(async () => {
      if (exited) throw new Error(`fail2ban-server exited:\n${server.output()}`)
      return (await client(['ping'])).code === 0
    }, { interval: 100, timeout: 15_000 })
  })
  afterAll(async () => {
    if (mesh !== undefined && (await client(['stop'])).code !== 0) await mesh.destroy()
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  // every warning but the one of the test host's in-memory database, created on each start
  const warnings = () => readFileSync(join(dir, 'fail2ban.log'), 'utf8').split('\n').filter(l => /\b(WARNING|ERROR)\b/.test(l) && !l.includes('New database created'))

  it('starts both jails without a warning', async () => {
    const status = await client(['status'])
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/Jail list:\s+fst, sshd$/m)
    expect(warnings()).toEqual([])
    // what the server read its configuration with, before its log was open, went to its stderr
    expect(server.output().split('\n').filter(l => /WARNING|ERROR/.test(l) && !l.includes("'allowipv6' not defined"))).toEqual([])
  })

  it('reloads without a warning', async () => {
    const reload = await mesh.exec(1, 'fail2ban-client', ['-c', dir, '-s', sock, 'reload'])
    expect(reload.code, reload.stderr + reload.stdout).toBe(0)
    // Debian's fail2ban.conf lacks `allowipv6` (fail2ban 1.0.2 warns about it on every client start): not ours
    const said = (reload.stderr + reload.stdout).split('\n').filter(l => /WARNING|ERROR/.test(l) && !l.includes("'allowipv6' not defined"))
    expect(said).toEqual([])
    expect((await client(['status'])).stdout).toMatch(/Jail list:\s+fst, sshd$/m)
    expect(warnings()).toEqual([])
    // the filter matches nothing: the receiving jail only holds what it is given
    expect((await client(['get', 'fst', 'failregex'])).stdout).toMatch(/No regular expression is defined/)
  })

  it('holds a received ban in the receiving jail', async () => {
    const ban = await client(['set', 'fst', 'banip', '192.0.2.44'])
    expect(ban.code, ban.stderr).toBe(0)
    expect((await client(['get', 'fst', 'banned', '192.0.2.44'])).stdout.trim()).toBe('1')
    expect(warnings()).toEqual([])
  })
})
