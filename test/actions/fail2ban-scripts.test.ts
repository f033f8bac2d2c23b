import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ActionRunner, listScripts, type Outcome } from '@fst/node'
import type { FstEvent } from '@fst/protocol'
import pWaitFor from 'p-wait-for'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../utils/mesh.js'

/**
 * The shipped actions/ban.d and actions/unban.d scripts against a real, self-contained fail2ban-server
 * (own config dir and socket, see TESTBED.md), run by the real ActionRunner with the argv and fixed
 * environment every node uses. Also the shipped contrib/fail2ban/action.d/fst.conf, in a real jail.
 */
let dir: string
let sock: string
let server: ChildProcess | null = null
let serverOutput = ''

function client (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile('fail2ban-client', ['-s', sock, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

async function banned (jail: string, ip: string): Promise<boolean> {
  const out = await client(['get', jail, 'banned', ip])
  if (out.code !== 0) throw new Error(`get ${jail} banned ${ip}: ${out.stdout}${out.stderr}`)
  return out.stdout.trim() === '1'
}

/** Lines the jails' recording action wrote: `<jail> ban|unban <ip>`. */
function firewall (): string[] {
  const file = join(dir, 'firewall.log')
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

function runner (extraEnv: Record<string, string>) {
  const outcomes: Array<{ action: string, outcome: Outcome }> = []
  const log: string[] = []
  const run = new ActionRunner({
    actionsDir: join(ROOT, 'actions'),
    timeoutMs: 60_000,
    extraEnv,
    log: pino({ level: 'info' }, { write: (line: string) => { log.push(line) } }),
    onRun: (action, outcome) => outcomes.push({ action, outcome })
  })
  /** Runs one job: the shipped .batch script gets all its events on stdin. */
  const applyAll = async (action: string, events: Array<{ name: string, ip: string }>) => {
    const time = Date.now()
    run.enqueue({ action, events: events.map(e => ({ action, ...e, protocol: 'tcp', port: '22', time, duration: 0 }) satisfies FstEvent), origin: '12D3KooWtest' })
    await run.idle()
  }
  const apply = (action: string, name: string, ip: string) => applyAll(action, [{ name, ip }])
  return { apply, applyAll, outcomes, log }
}

/** Every address banned in a jail (`get <jail> banip`). */
async function bannedIn (jail: string): Promise<Set<string>> {
  const out = await client(['get', jail, 'banip'])
  if (out.code !== 0) throw new Error(`get ${jail} banip: ${out.stdout}${out.stderr}`)
  return new Set(out.stdout.split(/\s+/).filter(Boolean))
}

/** A fail2ban-client that records each invocation (one line of argv) before running the real one. */
function countingClient (): { path: string, calls: () => string[][] } {
  const log = join(dir, `client-${Math.random().toString(36).slice(2)}.log`)
  const path = `${log}.sh`
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec fail2ban-client "$@"\n`)
  chmodSync(path, 0o755)
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map(l => l.split(' ')) : [])
  return { path, calls }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fst-f2b-'))
  sock = join(dir, 'f2b.sock')
  mkdirSync(join(dir, 'action.d'))
  mkdirSync(join(dir, 'filter.d'))
  copyFileSync(join(ROOT, 'contrib/fail2ban/action.d/fst.conf'), join(dir, 'action.d/fst.conf'))
  writeFileSync(join(dir, 'fail2ban.conf'), [
    '[Definition]', 'loglevel = INFO', `logtarget = ${join(dir, 'fail2ban.log')}`, `socket = ${sock}`,
    `pidfile = ${join(dir, 'f2b.pid')}`, 'dbfile = :memory:', ''
  ].join('\n'))
  // stands in for iptables: records what the jail's firewall action would do
  writeFileSync(join(dir, 'action.d/record.conf'), [
    '[Definition]',
    `actionban = printf '%%s ban %%s\\n' '<name>' '<ip>' >> '${join(dir, 'firewall.log')}'`,
    `actionunban = printf '%%s unban %%s\\n' '<name>' '<ip>' >> '${join(dir, 'firewall.log')}'`,
    ''
  ].join('\n'))
  // stands in for fst-action: records its argv and FST_CONFIG
  const hook = join(dir, 'hook')
  writeFileSync(hook, `#!/bin/sh\nprintf '%s [%s] %s\\n' "$FST_CONFIG" "$FST_SOCKET" "$*" >> '${join(dir, 'hook.log')}'\n`)
  chmodSync(hook, 0o755)
  writeFileSync(join(dir, 'jail.conf'), [
    '[DEFAULT]', 'backend = polling', 'usedns = no', 'ignoreself = false', 'filter =', 'logpath = /dev/null', 'bantime = 600', '',
    '[sshd]', 'enabled = true', 'port = ssh', 'protocol = tcp', 'action = record', '',
    '[fst]', 'enabled = true', 'action = record', '',
    // batch targets without a firewall action: fail2ban's own per-address action cost stays out of the test
    '[web]', 'enabled = true', 'action =', '',
    '[bulk]', 'enabled = true', 'action =', '',
    '[reporter]', 'enabled = true', 'port = 22,2222', 'protocol = tcp', 'bantime = 3600',
    `action = record\n         fst[port="%(port)s", protocol="%(protocol)s", fst_action="${hook}", fst_config="/etc/fst/test.yml", fst_socket="/run/fst/test.sock"]`, '',
    '[bare]', 'enabled = true', 'bantime = -1', `action = fst[fst_action="${hook}"]`, ''
  ].join('\n'))
  // cwd: the server keeps the caller's working directory
  server = spawn('fail2ban-server', ['-f', '-x', '-c', dir, '-s', sock, '-p', join(dir, 'f2b.pid')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  server.stdout?.on('data', (d: Buffer) => { serverOutput += d.toString() })
  server.stderr?.on('data', (d: Buffer) => { serverOutput += d.toString() })
  let exited = false
  server.once('exit', () => { exited = true })
  await pWaitFor(async () => {
    if (exited) throw new Error(`fail2ban-server exited:\n${serverOutput}`)
    return (await client(['ping'])).code === 0
  }, { interval: 100, timeout: 20_000 })
})

afterAll(async () => {
  if (server !== null && server.exitCode === null) {
    const exited = new Promise(resolve => server?.once('exit', resolve))
    await client(['stop'])
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 5000))])
    if (server.exitCode === null) server.kill('SIGKILL')
  }
  rmSync(dir, { recursive: true, force: true })
})

describe('shipped actions/ban.d and unban.d with a real fail2ban', () => {
  it('bans in the jail named like the event when it exists, and unbans there', async () => {
    const { apply, outcomes } = runner({ FST_FAIL2BAN_SOCKET: sock })
    await apply('ban', 'sshd', '203.0.113.7')
    expect(await banned('sshd', '203.0.113.7')).toBe(true)
    expect(await banned('fst', '203.0.113.7')).toBe(false)
    expect(firewall()).toContain('sshd ban 203.0.113.7')
    await apply('unban', 'sshd', '203.0.113.7')
    expect(await banned('sshd', '203.0.113.7')).toBe(false)
    expect(firewall()).toContain('sshd unban 203.0.113.7')
    expect(outcomes).toEqual([{ action: 'ban', outcome: 'ok' }, { action: 'unban', outcome: 'ok' }])
  })

  it('falls back to the receiving jail `fst` when no jail has the event\'s name (IPv6 too)', async () => {
    const { apply, outcomes } = runner({ FST_FAIL2BAN_SOCKET: sock })
    await apply('ban', 'postfix', '2001:db8::7')
    expect(await banned('fst', '2001:db8::7')).toBe(true)
    expect(firewall()).toContain('fst ban 2001:db8::7')
    await apply('unban', 'postfix', '2001:db8::7')
    expect(await banned('fst', '2001:db8::7')).toBe(false)
    expect(outcomes.map(o => o.outcome)).toEqual(['ok', 'ok'])
  })

  it('always uses FST_FAIL2BAN_JAIL when set, and FST_FAIL2BAN_FALLBACK as the receiving jail', async () => {
    const forced = runner({ FST_FAIL2BAN_SOCKET: sock, FST_FAIL2BAN_JAIL: 'fst' })
    await forced.apply('ban', 'sshd', '198.51.100.7')
    expect(await banned('fst', '198.51.100.7')).toBe(true)
    expect(await banned('sshd', '198.51.100.7')).toBe(false)
    const fallback = runner({ FST_FAIL2BAN_SOCKET: sock, FST_FAIL2BAN_FALLBACK: 'sshd' })
    await fallback.apply('ban', 'postfix', '198.51.100.8')
    expect(await banned('sshd', '198.51.100.8')).toBe(true)
  })

  it('fails visibly (non-zero, counted) when the jail does not exist', async () => {
    const { apply, outcomes } = runner({ FST_FAIL2BAN_SOCKET: sock, FST_FAIL2BAN_JAIL: 'nosuchjail' })
    await apply('ban', 'sshd', '198.51.100.9')
    expect(outcomes).toEqual([{ action: 'ban', outcome: 'failed' }])
  })
})

describe('batches through the shipped .batch scripts', () => {
  it('ships only batch scripts for fail2ban, so no event reaches fail2ban twice', () => {
    for (const action of ['ban', 'unban']) {
      expect(listScripts(join(ROOT, 'actions', `${action}.d`)).map(s => [s.name, s.batch])).toEqual([['50-fail2ban.batch', true]])
    }
  })

  it('bans 1,000 addresses across two jails in a few fail2ban-client calls, then unbans them all', async () => {
    const counting = countingClient()
    const { applyAll, outcomes } = runner({ FST_FAIL2BAN_SOCKET: sock, FST_FAIL2BAN_FALLBACK: 'bulk', FST_FAIL2BAN_CLIENT: counting.path })
    // 600 reported by a jail `web` that runs here, 400 by a `postfix` jail that does not (→ fallback `bulk`)
    const web = Array.from({ length: 600 }, (_, i) => ({ name: 'web', ip: `198.18.${i >> 8}.${i & 255}` }))
    const postfix = Array.from({ length: 400 }, (_, i) => ({ name: 'postfix', ip: `2001:db8:5::${(i + 1).toString(16)}` }))
    const events = web.flatMap((e, i) => (i < postfix.length ? [e, postfix[i]!] : [e]))
    await applyAll('ban', events)
    expect(outcomes).toEqual([{ action: 'ban', outcome: 'ok' }])
    expect(await bannedIn('web')).toEqual(new Set(web.map(e => e.ip)))
    expect(await bannedIn('bulk')).toEqual(new Set(postfix.map(e => e.ip)))
    // one jail lookup per name, then chunks of at most 500 addresses: 5 calls for 1,000 bans
    const banCalls = counting.calls()
    expect(banCalls.map(c => c.slice(2, 5).join(' '))).toEqual(['status web', 'status postfix', 'set web banip', 'set web banip', 'set bulk banip'])
    expect(banCalls.slice(2).map(c => c.length - 5)).toEqual([500, 100, 400])

    await applyAll('unban', events)
    expect(outcomes.at(-1)).toEqual({ action: 'unban', outcome: 'ok' })
    expect(await bannedIn('web')).toEqual(new Set())
    expect(await bannedIn('bulk')).toEqual(new Set())
    expect(counting.calls().length - banCalls.length).toBe(5)
  })

  it('skips and reports malformed or protected lines, applies the rest, and fails the run visibly', async () => {
    const { applyAll, outcomes, log } = runner({ FST_FAIL2BAN_SOCKET: sock, FST_FAIL2BAN_JAIL: 'bulk' })
    // the node never sends these (it validated them); the script must not trust that: banip bans anything
    await applyAll('ban', [
      { name: 'web', ip: '203.0.113.30' },
      { name: 'web', ip: 'not-an-ip' },
      { name: 'web', ip: '0.0.0.0/0' },
      { name: 'web', ip: '203.0.113.31 6' },
      { name: '-s', ip: '203.0.113.32' },
      { name: 'web', ip: '2001:db8::31' }
    ])
    expect(await bannedIn('bulk')).toEqual(new Set(['203.0.113.30', '2001:db8::31']))
    expect(outcomes).toEqual([{ action: 'ban', outcome: 'failed' }])
    const stderr = log.map(l => JSON.parse(l) as { stderr?: string }).find(l => l.stderr !== undefined)?.stderr ?? ''
    expect(stderr).toContain('line 2 skipped: not an IPv4 or IPv6 address')
    expect(stderr).toContain('line 3 skipped: in an always-protected range')
    expect(stderr).toContain('line 4 skipped: expected 5 fields')
    expect(stderr).toContain('line 5 skipped: name must match')
    await applyAll('unban', [{ name: 'web', ip: '203.0.113.30' }, { name: 'web', ip: '2001:db8::31' }])
    expect(await bannedIn('bulk')).toEqual(new Set())
  })
})

describe('contrib/fail2ban/action.d/fst.conf in a real jail', () => {
  const hookLines = () => readFileSync(join(dir, 'hook.log'), 'utf8').split('\n').filter(Boolean)

  it('calls the hook with the jail name, protocol, port, ip and bantime, and FST_CONFIG and FST_SOCKET', async () => {
    expect((await client(['set', 'reporter', 'banip', '203.0.113.20'])).code).toBe(0)
    expect((await client(['set', 'reporter', 'unbanip', '203.0.113.20'])).code).toBe(0)
    expect(hookLines()).toEqual([
      '/etc/fst/test.yml [/run/fst/test.sock] ban reporter tcp 22,2222 203.0.113.20 3600',
      '/etc/fst/test.yml [/run/fst/test.sock] unban reporter tcp 22,2222 203.0.113.20'
    ])
    expect(firewall()).toContain('reporter ban 203.0.113.20')
  })

  it('uses the [Init] defaults for a jail listing fst without arguments, and passes bantime -1', async () => {
    expect((await client(['set', 'bare', 'banip', '203.0.113.21'])).code).toBe(0)
    expect(hookLines().at(-1)).toBe('/etc/fst/config.yml [] ban bare tcp 0:65535 203.0.113.21 -1')
  })
})
