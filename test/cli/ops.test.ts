import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST, freePort, Mesh, ROOT, run, runBin } from '../utils/mesh.js'

/** GET on the node's HTTP endpoint: status code and body. */
function fetchText (port: number, path: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

/**
 * Issue 18, operating a node: /healthz and /readyz, `fst status` failing when alone, `fst check` on a good
 * setup, the log lines an administrator reads (peer up/down naming the entry, a published report, no warning
 * on a healthy start, readable lines with logFormat: pretty), and shell completion from the command tree.
 */
describe('operating a node', () => {
  let mesh: Mesh
  let httpPort = 0

  beforeAll(async () => {
    httpPort = await freePort()
    mesh = await Mesh.create({
      nodes: 2,
      config: i => (i === 0 ? { metricsListen: `127.0.0.1:${httpPort}` } : { logFormat: 'pretty' })
    })
  })
  afterAll(async () => { await mesh?.stop() })

  it('fst check passes on a working setup and prints one line', async () => {
    const out = await mesh.fst(0, ['check'])
    expect(out).toMatchObject({ code: 0, stderr: '' })
    expect(out.stdout.trim().split('\n')).toHaveLength(1)
    expect(out.stdout).toMatch(/config\.yml: OK/)
  })

  it('/healthz is live, /readyz ready while a peer is connected; fst status exits 0', async () => {
    expect(await fetchText(httpPort, '/healthz')).toEqual({ status: 200, body: 'ok\n' })
    expect(await fetchText(httpPort, '/readyz')).toEqual({ status: 200, body: 'ok\n' })
    expect((await fetchText(httpPort, '/nope')).status).toBe(404)
    const status = await mesh.fst(0, ['status'])
    expect(status.code).toBe(0)
    // the node's own memory, so an administrator can tell heap from the rest without /proc
    const memory = /^memory: {3}([\d.]+) MB resident, JavaScript heap ([\d.]+) MB used of ([\d.]+) MB$/m.exec(status.stdout)
    expect(memory, status.stdout).not.toBeNull()
    const [rss, used, total] = memory!.slice(1).map(Number) as [number, number, number]
    expect(used).toBeGreaterThan(0)
    expect(used).toBeLessThanOrEqual(total)
    expect(total).toBeLessThan(rss)
  })

  it('logs a published report and the peer coming up, by its sync-peers.txt entry, and no warning', async () => {
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.30', '600'])).code).toBe(0)
    await mesh.waitForRuns(1, 1)
    const lines = mesh.nodes[0]!.log().trim().split('\n').map(l => JSON.parse(l) as { level: number, msg: string, entry?: string, ip?: string })
    expect(lines.filter(l => l.level >= 40), mesh.nodes[0]!.log()).toEqual([])
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, msg: 'peer up', entry: `127.0.0.1:${mesh.nodes[1]!.port}` }))
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, msg: 'published a local report', ip: '203.0.113.30' }))
    // logFormat: pretty: readable lines, not JSON
    await pWaitFor(() => /INFO.*peer up/.test(mesh.nodes[1]!.log()), { interval: 50, timeout: 10_000 })
    expect(mesh.nodes[1]!.log()).not.toMatch(/^\{"level"/m)
  })

  it('when the only peer goes: "peer down" naming it, /readyz 503, fst status exits 1', async () => {
    await mesh.stopNode(1)
    await pWaitFor(async () => (await mesh.status(0)).peers.length === 0, { interval: 50, timeout: 20_000 })
    const ready = await fetchText(httpPort, '/readyz')
    expect(ready.status).toBe(503)
    expect(ready.body).toMatch(/^no peer connected/)
    expect((await fetchText(httpPort, '/healthz')).status).toBe(200)
    const status = await mesh.fst(0, ['status'])
    expect(status.code).toBe(1)
    expect(status.stdout).toMatch(/peers: +0 connected/)
    expect(status.stderr).toBe('fst: no peer connected (see fst peers)\n')
    expect((await mesh.fst(0, ['status', '--json'])).code).toBe(1)
    await pWaitFor(() => mesh.nodes[0]!.log().includes('"msg":"peer down"'), { interval: 50, timeout: 10_000 })
    expect(mesh.nodes[0]!.log()).toMatch(new RegExp(`"entry":"127\\.0\\.0\\.1:${mesh.nodes[1]!.port}".*"msg":"peer down"`))
  })

  it('completion scripts for bash and zsh come from the command tree', async () => {
    const help = await runBin(FST, ['--help'])
    const section = help.stdout.slice(help.stdout.indexOf('Commands:'), help.stdout.indexOf('Examples:'))
    const commands = [...section.matchAll(/^ {2}([a-z]+)\b/gm)].map(m => m[1]!).filter(c => c !== 'help')
    expect(commands).toEqual(expect.arrayContaining(['start', 'check', 'ban', 'unban', 'import', 'export', 'status', 'completion']))
    const bash = await runBin(FST, ['completion', 'bash'])
    expect(bash.code).toBe(0)
    for (const c of commands) expect(bash.stdout).toContain(`    ${c})`)
    expect(bash.stdout).toContain('--duration')
    // bash parses it, and completing `fst ba` offers ban
    const script = `${bash.stdout}\nCOMP_WORDS=(fst ba); COMP_CWORD=1; _fst; echo "\${COMPREPLY[*]}"\nCOMP_WORDS=(fst ban 1.2.3.4 --dur); COMP_CWORD=3; _fst; echo "\${COMPREPLY[*]}"`
    const completed = await run('bash', ['-c', script])
    expect(completed.stdout.split('\n').slice(0, 2)).toEqual(['ban', '--duration'])
    const zsh = await runBin(FST, ['completion', 'zsh'])
    expect(zsh.stdout).toMatch(/^#compdef fst/)
    for (const c of commands) expect(zsh.stdout).toContain(`'${c}:`)
    const hasZsh = (await run('sh', ['-c', 'command -v zsh'])).code === 0
    if (hasZsh) expect((await run('zsh', ['-n', '-c', zsh.stdout])).code).toBe(0)
  })

  it('docs/cli.md and --help agree: every command and every exit code is in both', async () => {
    const doc = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8')
    const help = (await runBin(FST, ['--help'])).stdout
    const section = help.slice(help.indexOf('Commands:'), help.indexOf('Examples:'))
    const commands = [...section.matchAll(/^ {2}([a-z]+)\b/gm)].map(m => m[1]!).filter(c => c !== 'help')
    for (const c of commands) expect(doc, `fst ${c}`).toContain(`\`fst ${c}`)
    for (const code of ['0', '1', '2', '3', '70']) {
      expect(help).toMatch(new RegExp(`^ {2}${code} +\\S`, 'm'))
      expect(doc).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'))
    }
    for (const c of ['ban', 'unban', 'import', 'export', 'check']) {
      const sub = (await runBin(FST, [c, '--help'])).stdout
      const options = [...sub.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map(m => m[1]!).filter(o => !['--help', '--config', '--socket'].includes(o))
      for (const o of options) expect(doc, `fst ${c} ${o}`).toContain(o)
    }
  })
})
