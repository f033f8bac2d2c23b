import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defences, total } from '../utils/defences.js'
import { Mesh } from '../utils/mesh.js'

const isRoot = process.getuid?.() === 0
const GROUP = `fsttest${process.pid}`
const SECRET = `fst-secret-${process.pid}`

/** Sends raw lines to a control socket; resolves with the response lines once `expected` arrived or it closed. */
function rawControl (path: string, payload: string, expected: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path)
    let buffer = ''
    const done = () => { socket.destroy(); resolve(buffer.split('\n').filter(Boolean)) }
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => { buffer += d; if (buffer.split('\n').filter(Boolean).length >= expected) done() })
    socket.on('close', done)
    socket.on('error', reject)
    socket.write(payload)
  })
}

/**
 * Issue 3 acceptance, local attackers and the origin: the hook refuses bad input before the mesh sees it, the
 * node validates control requests again, the socket is root + controlGroup only, and scripts see neither the
 * daemon's environment nor a chance to flood its log.
 */
describe('origin, control socket and scripts', () => {
  let mesh: Mesh
  let socket0 = ''

  beforeAll(async () => {
    if (isRoot) execFileSync('groupadd', ['--system', GROUP])
    const group = isRoot ? GROUP : String(process.getgid?.())
    process.env.FST_TEST_SECRET = SECRET
    mesh = await Mesh.create({
      nodes: 2,
      start: false,
      actions: ['ban', 'unban', 'noisy', 'envdump'],
      config: i => ({
        ignore: ['192.0.2.0/24'],
        ...(i === 0 ? { controlGroup: group, controlSocket: 'sock/fst.sock' } : {})
      })
    })
    // the socket's folder must be reachable by the group; the state dir is not (0750)
    mkdirSync(join(mesh.nodes[0]!.dir, 'sock'), { mode: 0o755 })
    chmodSync(mesh.root, 0o711)
    chmodSync(mesh.nodes[0]!.dir, 0o711)
    socket0 = join(mesh.nodes[0]!.dir, 'sock/fst.sock')
    mesh.addScript(1, 'noisy', '50-noisy', '#!/bin/sh\nhead -c 3000000 /dev/zero | tr "\\0" x\nhead -c 3000000 /dev/zero | tr "\\0" y >&2\necho done >> ../../runs.log\n')
    mesh.addScript(1, 'envdump', '50-env', '#!/bin/sh\nenv > ../../env.log\npwd > ../../cwd.log\necho envdump >> ../../runs.log\n')
    await mesh.startAll()
  })
  afterAll(async () => {
    delete process.env.FST_TEST_SECRET
    await mesh?.stop()
    if (isRoot) spawnSync('groupdel', [GROUP])
  })

  it('refuses protected and over-wide bans at the hook with one clear line, and counts them', async () => {
    const start = await defences(mesh, 0)
    const cases: Array<[string, RegExp]> = [
      ['127.0.0.1', /overlaps protected 127\.0\.0\.0\/8/],
      ['::1', /overlaps protected ::1/],
      ['192.0.2.77', /overlaps protected 192\.0\.2\.0\/24/],
      ['192.0.0.0/16', /overlaps protected 192\.0\.2\.0\/24/],
      ['0.0.0.0/0', /wider than \/16/],
      ['::/0', /wider than \/32/],
      ['::ffff:127.0.0.1', /overlaps protected 127\.0\.0\.0\/8/]
    ]
    for (const [ip, message] of cases) {
      const out = await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip])
      expect(out.code, ip).toBe(1)
      expect(out.stderr).toMatch(message)
      expect(out.stderr.trim().split('\n')).toHaveLength(1)
    }
    // unban of a protected address is allowed (it can only lift a ban)
    expect((await mesh.hook(0, ['unban', 'sshd', 'tcp', '22', '127.0.0.1'])).code).toBe(0)
    const end = await defences(mesh, 0)
    expect((end.refused.protected_address ?? 0) - (start.refused.protected_address ?? 0)).toBe(5)
    expect((end.refused.prefix_too_short ?? 0) - (start.refused.prefix_too_short ?? 0)).toBe(2)
  })

  it('refuses traversal and metacharacters at the hook before the node sees them', async () => {
    const bad = [['../../bin', 'sshd'], ['ban;id', 'sshd'], ['$(id)', 'sshd'], ['ban\nid', 'sshd'], ['ban', 'ss\nhd'], ['ban', '../x']]
    for (const [action, name] of bad) {
      const out = await mesh.hook(0, [action!, name!, 'tcp', '22', '203.0.113.90'])
      // a bad field is a usage mistake (exit 2); 1 is for what the node refuses
      expect(out.code).toBe(2)
      expect(out.stderr).toMatch(/must match/)
      expect(out.stderr.trim().split('\n')).toHaveLength(1)
    }
  })

  it('validates raw control requests again in the node: refused with a code, nothing runs', async () => {
    const event = { op: 'publish', action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.91' }
    const lines = [
      'not json',
      '{}',
      '[]',
      '{"op":"__proto__"}',
      JSON.stringify({ op: 'publish' }),
      JSON.stringify({ ...event, action: '../../bin' }),
      JSON.stringify({ ...event, action: { toString: 'x' } }),
      JSON.stringify({ ...event, name: ['sshd'] }),
      JSON.stringify({ ...event, ip: '203.0.113.91\n' }),
      JSON.stringify({ ...event, ip: '127.0.0.1' }),
      JSON.stringify({ ...event, port: '22;id' }),
      JSON.stringify({ ...event, duration: -5 }),
      JSON.stringify({ ...event, duration: 1e300 }),
      JSON.stringify({ op: 'repin', peer: { toString: 1 } }),
      JSON.stringify({ op: 'list', ip: { $gt: '' } })
    ]
    const answers = (await rawControl(socket0, `${lines.join('\n')}\n`, lines.length)).map(l => JSON.parse(l) as { ok: boolean, code?: string })
    expect(answers).toHaveLength(lines.length)
    expect(answers.slice(0, -1).every(a => a.ok === false && typeof a.code === 'string' && a.code !== 'internal')).toBe(true)
    // a line over the limit closes the connection with an answer
    const long = await rawControl(socket0, `${JSON.stringify({ ...event, name: 'x'.repeat(70 * 1024) })}\n`, 1)
    expect(JSON.parse(long[0]!)).toMatchObject({ ok: false, code: 'too_large' })
    // the node is alive and nothing ran: the barrier is the only ban node 1 saw
    expect((await mesh.hook(0, ['ban', 'barrier', 'tcp', '22', '203.0.113.92'])).code).toBe(0)
    expect(await mesh.waitForRuns(1, 1)).toEqual(['ban barrier tcp 22 203.0.113.92'])
  })

  it('rate-limits the warning log: a thousand refused calls leave counters, not a thousand lines', async () => {
    const start = await defences(mesh, 0)
    const logBefore = mesh.nodes[0]!.log().split('\n').length
    const line = JSON.stringify({ op: 'publish', action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: '127.0.0.9' })
    const answers = await rawControl(socket0, `${line}\n`.repeat(1000), 1000)
    expect(answers).toHaveLength(1000)
    const end = await defences(mesh, 0)
    expect(total(end.refused) - total(start.refused)).toBe(1000)
    const newLines = mesh.nodes[0]!.log().split('\n').length - logBefore
    expect(newLines).toBeLessThanOrEqual(12)
  })

  it('makes the socket 0660 root:controlGroup; other users are refused, group members get in', async () => {
    const st = statSync(socket0)
    expect(st.mode & 0o777).toBe(0o660)
    const gid = Number(execFileSync('getent', ['group', isRoot ? GROUP : String(process.getgid?.())], { encoding: 'utf8' }).split(':')[2])
    expect(st.gid).toBe(gid)
    expect(st.uid).toBe(process.getuid?.())
    if (!isRoot) return
    const probe = (g: number) => spawnSync(process.execPath, ['-e', `
      const s = require('node:net').createConnection(${JSON.stringify(socket0)})
      s.on('connect', () => { console.log('connected'); s.end() })
      s.on('error', e => { console.log(e.code); process.exitCode = 3 })`], { uid: 65534, gid: g, encoding: 'utf8' })
    const outsider = probe(65534)
    expect(outsider.stdout.trim()).toBe('EACCES')
    const member = probe(gid)
    expect(member.stdout.trim()).toBe('connected')
  })

  it('gives scripts a fixed minimal environment and cwd: the daemon\'s secrets do not leak', async () => {
    expect((await mesh.hook(0, ['envdump', 'sshd', 'tcp', '22', '203.0.113.93'])).code).toBe(0)
    await pWaitFor(() => mesh.runs(1).includes('envdump'), { interval: 20, timeout: 10_000 })
    const env = readFileSync(join(mesh.nodes[1]!.dir, 'env.log'), 'utf8')
    expect(env).not.toContain(SECRET)
    const keys = env.split('\n').filter(Boolean).map(l => l.split('=')[0]).sort()
    const allowed = new Set(['PATH', 'LANG', 'LC_ALL', 'PWD', 'SHLVL', '_', 'FST_ACTION', 'FST_ORIGIN', 'FST_COUNT', 'FST_NAME', 'FST_PROTOCOL', 'FST_PORT', 'FST_IP', 'FST_TIME', 'FST_DURATION'])
    expect(keys.filter(k => !allowed.has(k!))).toEqual([])
    expect(readFileSync(join(mesh.nodes[1]!.dir, 'cwd.log'), 'utf8').trim()).toBe(join(mesh.nodes[1]!.dir, 'actions', 'envdump.d'))
  })

  it('keeps megabytes of script output out of the log (size-limited)', async () => {
    const before = mesh.nodes[1]!.log().length
    expect((await mesh.hook(0, ['noisy', 'sshd', 'tcp', '22', '203.0.113.94'])).code).toBe(0)
    await pWaitFor(() => mesh.runs(1).includes('done') && mesh.nodes[1]!.log().includes('"script":"50-noisy"'), { interval: 20, timeout: 20_000 })
    const line = mesh.nodes[1]!.log().split('\n').find(l => l.includes('"script":"50-noisy"'))!
    expect(line.length).toBeLessThan(12 * 1024)
    expect(JSON.parse(line).stdout).toMatch(/bytes dropped\]$/)
    expect(mesh.nodes[1]!.log().length - before).toBeLessThan(20 * 1024)
  })

  it('refuses IPv6 forms that embed a protected IPv4 address at the hook; a mapped ordinary address is banned as IPv4', async () => {
    const start = await defences(mesh, 0)
    const cases: Array<[string, RegExp]> = [
      ['::ffff:127.0.0.1', /127\.0\.0\.1 overlaps protected 127\.0\.0\.0\/8/],
      ['::7f00:1', /embeds 127\.0\.0\.1 \(IPv4-compatible ::\/96\), which overlaps protected 127\.0\.0\.0\/8/],
      ['::ffff:0:7f00:1', /embeds 127\.0\.0\.1 \(IPv4-translated/],
      ['64:ff9b::7f00:1', /embeds 127\.0\.0\.1 \(NAT64 64:ff9b::\/96\)/],
      ['2002:7f00:1::/48', /embeds 127\.0\.0\.1 \(6to4 2002::\/16\)/],
      // the configured ignore list too: 192.0.2.77 behind a NAT64 translator
      ['64:ff9b::c000:24d', /embeds 192\.0\.2\.77 .*overlaps protected 192\.0\.2\.0\/24/]
    ]
    for (const [ip, message] of cases) {
      const out = await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip])
      expect(out.code, ip).toBe(1)
      expect(out.stderr, ip).toMatch(message)
      expect(out.stderr.trim().split('\n')).toHaveLength(1)
    }
    const end = await defences(mesh, 0)
    expect((end.refused.protected_address ?? 0) - (start.refused.protected_address ?? 0)).toBe(cases.length)
    // canonical on the wire: the peer's script sees the IPv4 address, as the IPv4 firewall set needs it
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '::ffff:203.0.113.95'])).code).toBe(0)
    await pWaitFor(() => mesh.runs(1).includes('ban sshd tcp 22 203.0.113.95'), { interval: 20, timeout: 10_000 })
  })
})
