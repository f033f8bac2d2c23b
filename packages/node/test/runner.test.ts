import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FstEvent } from '@fst/protocol'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DirectLauncher, ForkServer, type Launcher } from '../src/actions/launch/index.js'
import { ActionRunner, batchInput, type Outcome, timeoutFor } from '../src/actions/runner.js'

let root: string
const runners: ActionRunner[] = []

beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'fst-runner-')) })
afterAll(async () => {
  // stopping a runner also ends its fork server
  await Promise.all(runners.map(r => r.stop(0)))
  rmSync(root, { recursive: true, force: true })
})

const event = (ip: string, extra: Partial<FstEvent> = {}): FstEvent =>
  ({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip, time: 1_700_000_000_000, duration: 600, ...extra })

/** A fresh actions dir, a log file the scripts append to, and a runner with a captured log. */
function setup (launcher: () => Launcher, timeoutMs = 5000, extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(join(root, 'case-'))
  const actionsDir = join(dir, 'actions')
  const out = join(dir, 'out.log')
  const logLines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk, _enc, done) { logLines.push(JSON.parse(String(chunk))); done() } })
  const outcomes: Outcome[] = []
  const log = pino({ level: 'debug' }, stream)
  const runner = new ActionRunner({ launcher: launcher(), actionsDir, timeoutMs, extraEnv, log, onRun: (_a, outcome) => outcomes.push(outcome) })
  runners.push(runner)
  const script = (action: string, name: string, body: string, mode = 0o755) => {
    mkdirSync(join(actionsDir, `${action}.d`), { recursive: true })
    const file = join(actionsDir, `${action}.d`, name)
    writeFileSync(file, body)
    chmodSync(file, mode)
    return file
  }
  /** A script that appends `<label> <argv…>` to out.log. */
  const recorder = (action: string, name: string, label = name) =>
    script(action, name, `#!/bin/sh\nprintf '%s %s\\n' '${label}' "$*" >> '${out}'\n`)
  const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [])
  return { dir, actionsDir, out, runner, script, recorder, lines, logLines, outcomes }
}

/** Every behaviour holds for both ways of starting scripts (the fork server needs perl, as on Debian). */
const LAUNCHERS: Array<[string, () => Launcher]> = [
  ['spawn', () => new DirectLauncher()],
  ['fork server', () => new ForkServer('/usr/bin/perl', new DirectLauncher(), pino({ level: 'silent' }))]
]

describe.each(LAUNCHERS)('ActionRunner (%s)', (_name, launcher) => {
  it('runs every executable of <action>.d in lexical order, skipping hidden, backup, disabled and non-executable files', async () => {
    const t = setup(launcher)
    for (const name of ['50-c', '10-a', '2-b', 'B', 'a']) t.recorder('ban', name)
    t.recorder('ban', '.hidden')
    t.recorder('ban', '60-old~')
    t.recorder('ban', '70-x.disabled')
    t.script('ban', '80-not-executable', '#!/bin/sh\necho no >> /dev/null\n', 0o644)
    mkdirSync(join(t.actionsDir, 'ban.d', '90-a-directory'))
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.7')], origin: 'peerA' })
    await t.runner.idle()
    expect(t.lines()).toEqual(['10-a sshd tcp 22 203.0.113.7', '2-b sshd tcp 22 203.0.113.7', '50-c sshd tcp 22 203.0.113.7', 'B sshd tcp 22 203.0.113.7', 'a sshd tcp 22 203.0.113.7'])
  })

  it('runs scripts one after another, per event in order, origins taking turns', async () => {
    const t = setup(launcher)
    t.script('ban', '10-slow', `#!/bin/sh\necho "start $4" >> '${t.out}'\nsleep 0.2\necho "end $4" >> '${t.out}'\n`)
    t.recorder('ban', '20-next', 'next')
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.1'), event('203.0.113.2')], origin: 'peerA' })
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.3')], origin: 'peerB' })
    expect(t.runner.pending).toBe(3)
    await t.runner.idle()
    expect(t.runner.pending).toBe(0)
    // per-event scripts only: one event per turn. peerA's first turn had begun (its rest queued again) before
    // peerB's job arrived, so peerB waits exactly one more turn; the fairness test below has the long case
    expect(t.lines()).toEqual([
      'start 203.0.113.1', 'end 203.0.113.1', 'next sshd tcp 22 203.0.113.1',
      'start 203.0.113.2', 'end 203.0.113.2', 'next sshd tcp 22 203.0.113.2',
      'start 203.0.113.3', 'end 203.0.113.3', 'next sshd tcp 22 203.0.113.3'
    ])
  })

  it('serves origins round-robin: one flooding origin delays another by one turn at most', async () => {
    const t = setup(launcher)
    t.recorder('ban', '50-record', 'ran')
    const flood = Array.from({ length: 200 }, (_, i) => event(`198.18.0.${i}`))
    t.runner.enqueue({ action: 'ban', events: flood.slice(0, 100), origin: 'flooder' })
    t.runner.enqueue({ action: 'ban', events: flood.slice(100), origin: 'flooder' })
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.9')], origin: 'honest' })
    await t.runner.idle()
    const lines = t.lines()
    expect(lines).toHaveLength(201)
    expect(lines.indexOf('ran sshd tcp 22 203.0.113.9')).toBeLessThanOrEqual(2)
  })

  it('passes exactly the argv and a fixed minimal environment, in the script\'s folder', async () => {
    const t = setup(launcher, 5000, { FST_FAIL2BAN_SOCKET: '/run/test.sock' })
    const dump = join(t.dir, 'dump.json')
    // a node script: sh would add PWD and friends to what it sees
    t.script('ban', '50-dump', `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(dump)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env, cwd: process.cwd() }))\n`)
    process.env.FST_TEST_SECRET = 'must not leak'
    try {
      t.runner.enqueue({ action: 'ban', events: [event('2001:db8::7', { name: 'nginx-http-auth', protocol: 'tcp,udp', port: 'http,https' })], origin: '12D3KooWorigin' })
      await t.runner.idle()
    } finally {
      delete process.env.FST_TEST_SECRET
    }
    const seen = JSON.parse(readFileSync(dump, 'utf8'))
    expect(seen.argv).toEqual(['nginx-http-auth', 'tcp,udp', 'http,https', '2001:db8::7'])
    expect(seen.cwd).toBe(join(t.actionsDir, 'ban.d'))
    expect(seen.env).toEqual({
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C',
      LC_ALL: 'C',
      FST_ACTION: 'ban',
      FST_ORIGIN: '12D3KooWorigin',
      FST_COUNT: '1',
      FST_NAME: 'nginx-http-auth',
      FST_PROTOCOL: 'tcp,udp',
      FST_PORT: 'http,https',
      FST_IP: '2001:db8::7',
      FST_TIME: '1700000000000',
      FST_DURATION: '600',
      FST_FAIL2BAN_SOCKET: '/run/test.sock'
    })
  })

  it('kills a hanging script at the timeout (with what it started) and the next script and job still run', async () => {
    const t = setup(launcher, 300)
    // no exec: the shell's child would keep the output pipe open if only the shell were killed
    t.script('ban', '10-hang', '#!/bin/sh\nsleep 30\necho done\n')
    t.recorder('ban', '20-after', 'after')
    const started = performance.now()
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.1')], origin: 'peerA' })
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.2')], origin: 'peerA' })
    await t.runner.idle()
    const seconds = (performance.now() - started) / 1000
    expect(seconds).toBeLessThan(10)
    expect(t.lines()).toEqual(['after sshd tcp 22 203.0.113.1', 'after sshd tcp 22 203.0.113.2'])
    expect(t.outcomes).toEqual(['timeout', 'ok', 'timeout', 'ok'])
    expect(t.logLines.filter(l => l.outcome === 'timeout' && l.script === '10-hang')).toHaveLength(2)
  })

  it('logs a failing script with its exit code and output, then runs the next', async () => {
    const t = setup(launcher)
    t.script('ban', '10-fail', '#!/bin/sh\necho "cannot ban $4" >&2\nexit 3\n')
    t.recorder('ban', '20-next', 'next')
    t.script('ban', '30-broken-interpreter', '#!/nonexistent/interpreter\n')
    t.recorder('ban', '40-last', 'last')
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.1')], origin: 'peerA' })
    await t.runner.idle()
    expect(t.lines()).toEqual(['next sshd tcp 22 203.0.113.1', 'last sshd tcp 22 203.0.113.1'])
    expect(t.outcomes).toEqual(['failed', 'ok', 'error', 'ok'])
    expect(t.logLines.find(l => l.script === '10-fail')).toMatchObject({ level: 40, outcome: 'failed', code: 3, stderr: 'cannot ban 203.0.113.1', msg: 'script did not succeed' })
    expect(t.logLines.find(l => l.script === '30-broken-interpreter')).toMatchObject({ outcome: 'error' })
  })

  it('ignores an action without a folder (debug log) and refuses an action that is not a name', async () => {
    const t = setup(launcher)
    t.recorder('ban', '50-rec')
    t.runner.enqueue({ action: 'nullroute', events: [event('203.0.113.1', { action: 'nullroute' })], origin: 'peerA' })
    t.runner.enqueue({ action: '../ban', events: [event('203.0.113.2')], origin: 'peerA' })
    await t.runner.idle()
    expect(t.lines()).toEqual([])
    expect(t.outcomes).toEqual([])
    expect(t.logLines.find(l => l.msg === 'no scripts for action; ignored')).toMatchObject({ level: 20, action: 'nullroute' })
  })

  it('runs a .batch script once per job with one stdin line per event', async () => {
    const t = setup(launcher)
    const stdin = join(t.dir, 'stdin.txt')
    t.script('ban', '50-all.batch', `#!/bin/sh\ncat > '${stdin}'\necho "batch $# $FST_COUNT \${FST_IP:-none}" >> '${t.out}'\n`)
    t.recorder('ban', '60-each', 'each')
    const events = [event('203.0.113.1'), event('2001:db8::2', { name: 'nginx', port: '80,443', duration: 0 }), event('198.51.100.0/24')]
    t.runner.enqueue({ action: 'ban', events, origin: 'peerA' })
    await t.runner.idle()
    expect(readFileSync(stdin, 'utf8')).toBe('sshd tcp 22 203.0.113.1 600\nnginx tcp 80,443 2001:db8::2 0\nsshd tcp 22 198.51.100.0/24 600\n')
    expect(readFileSync(stdin, 'utf8')).toBe(batchInput(events))
    expect(t.lines()).toEqual(['batch 0 3 none', 'each sshd tcp 22 203.0.113.1', 'each nginx tcp 80,443 2001:db8::2', 'each sshd tcp 22 198.51.100.0/24'])
  })

  it('merges a batch past jobs of other actions, but never runs an address\'s later event before its earlier one', async () => {
    const t = setup(launcher)
    for (const action of ['ban', 'unban']) t.script(action, '50-all.batch', `#!/bin/sh\necho "${action} $(cut -d' ' -f4 | tr '\\n' ' ')" >> '${t.out}'\n`)
    const job = (action: string, ip: string) => ({ action, events: [event(`203.0.113.${ip}`, action === 'unban' ? { duration: 0 } : {})], origin: 'peerA' })
    // the first job starts at once; the rest queue behind it, bans and unbans mixed, as a busy fleet sends them
    for (const [action, ip] of [['ban', '1'], ['ban', '2'], ['unban', '3'], ['ban', '3'], ['ban', '4'], ['unban', '4'], ['unban', '5']]) t.runner.enqueue(job(action!, ip!))
    await t.runner.idle()
    // .3: its ban waits behind its unban; .4: its unban runs after its ban
    expect(t.lines()).toEqual(['ban 203.0.113.1 ', 'ban 203.0.113.2 203.0.113.4 ', 'unban 203.0.113.3 203.0.113.4 203.0.113.5 ', 'ban 203.0.113.3 '])
  })

  it('keeps an address\'s order across origins: an admin\'s unban waits for the ban still queued in the origin\'s lane', async () => {
    const t = setup(launcher)
    t.recorder('ban', '50-record', 'ban')
    t.recorder('unban', '50-record', 'unban')
    const ev = (action: string, ip: string) => event(ip, action === 'unban' ? { action, duration: 0 } : {})
    // per-event scripts: one event per turn, so origins alternate; peerB's unban of .9 arrives after peerA queued its ban
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.9']) t.runner.enqueue({ action: 'ban', events: [ev('ban', ip)], origin: 'peerA' })
    t.runner.enqueue({ action: 'unban', events: [ev('unban', '203.0.113.9'), ev('unban', '203.0.113.4')], origin: 'peerB' })
    await t.runner.idle()
    const lines = t.lines()
    expect(lines).toHaveLength(6)
    expect(lines.indexOf('unban sshd tcp 22 203.0.113.9')).toBeGreaterThan(lines.indexOf('ban sshd tcp 22 203.0.113.9'))
    // what does not wait keeps its turn: peerB's other unban is not held back behind peerA's lane
    expect(lines.indexOf('unban sshd tcp 22 203.0.113.4')).toBeLessThan(lines.indexOf('ban sshd tcp 22 203.0.113.3'))
    expect(t.runner.pending).toBe(0)
  })

  it('hands scripts the canonical form of what a 0.1.0 node may send: a removal has duration 0, a port no leading zeros (issue 24)', async () => {
    const t = setup(launcher)
    const dump = join(t.dir, 'dump.json')
    t.script('unban', '50-dump', `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(dump)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env }))\n`)
    const stdin = join(t.dir, 'stdin.txt')
    t.script('unban', '60-all.batch', `#!/bin/sh\ncat > '${stdin}'\n`)
    t.runner.enqueue({ action: 'unban', events: [event('203.0.113.1', { action: 'unban', port: '022', duration: 60 })], origin: 'peerA' })
    await t.runner.idle()
    const seen = JSON.parse(readFileSync(dump, 'utf8'))
    expect(seen.argv).toEqual(['sshd', 'tcp', '22', '203.0.113.1'])
    expect(seen.env).toMatchObject({ FST_PORT: '22', FST_DURATION: '0' })
    expect(readFileSync(stdin, 'utf8')).toBe('sshd tcp 22 203.0.113.1 0\n')
  })

  it('stop() drops queued jobs, kills the running script and refuses new ones', async () => {
    const t = setup(launcher, 60_000)
    t.script('ban', '10-hang', '#!/bin/sh\nsleep 30\n')
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.1')], origin: 'peerA' })
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.2')], origin: 'peerA' })
    const started = performance.now()
    await t.runner.stop(100)
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(t.outcomes).toEqual(['failed'])
    t.runner.enqueue({ action: 'ban', events: [event('203.0.113.3')], origin: 'peerA' })
    await t.runner.idle()
    expect(t.outcomes).toHaveLength(1)
  })
})

describe('timeoutFor', () => {
  it('gives a batch its limit per started 100 events and a single event the plain limit', () => {
    expect(timeoutFor(10_000, 1)).toBe(10_000)
    expect(timeoutFor(10_000, 100)).toBe(10_000)
    expect(timeoutFor(10_000, 101)).toBe(20_000)
    expect(timeoutFor(10_000, 20_000)).toBe(2_000_000)
  })
})
