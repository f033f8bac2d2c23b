import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../utils/mesh.js'
import { leftoverNamespaces, NetnsMesh } from '../utils/netns.js'

/** One ```sh block of a doc, with the marker the line before it carries. */
interface Block { file: string, line: number, marker: string, text: string }

/**
 * Every ```sh block of a file, dedented, with the `<!-- docs-test: run -->` or `<!-- docs-test: skip (why) -->`
 * line before it (an empty marker when there is none).
 */
function shellBlocks (file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const out: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```sh\s*$/.exec(lines[i]!)
    if (open === null) continue
    const indent = open[1]!.length
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !/^ *```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent))
    const marker = /^ *<!-- docs-test: (.+?) -->$/.exec(lines[i - 1] ?? '')?.[1] ?? ''
    out.push({ file, line: i + 1, marker, text: body.join('\n') })
    i = j
  }
  return out
}

/** The production paths the docs name, moved under `prefix`: the commands run as written, elsewhere. */
const MOVED = ['/etc/fst', '/var/lib/fst', '/run/fst', '/var/log/fst', '/var/spool/fst', '/usr/share/doc/fst']
function moved (text: string, prefix: string): string {
  return text.replace(new RegExp(`(${MOVED.join('|')})(?=[/\\s'"]|$)`, 'gm'), `${prefix}$1`)
}

const FILES = ['README.md', 'docs/install.md']

/**
 * Issue 27: the command blocks of README.md and docs/install.md, run as written, so that the docs cannot
 * drift from the code. Each block is marked: `run` blocks run in order inside a network namespace of their
 * own (nothing leaves it: peers named in the docs do not resolve there), with the production paths
 * (/etc/fst, /var/lib/fst, /run/fst, ...) moved under a temp folder that starts as the package leaves the
 * server; `skip` blocks say why they cannot run here (they install into this machine, or need systemd).
 */
describe('the docs\' command blocks', () => {
  it('are all marked run or skip (with a reason)', () => {
    const blocks = FILES.flatMap(shellBlocks)
    expect(blocks.length).toBeGreaterThanOrEqual(15)
    for (const b of blocks) expect(b.marker, `${b.file}:${b.line}`).toMatch(/^(run|skip \(.{10,}\))$/)
    expect(blocks.filter(b => b.marker === 'run').length).toBeGreaterThanOrEqual(5)
  })

  let mesh: NetnsMesh
  let overlay = ''
  const pids: number[] = []
  beforeAll(async () => {
    mesh = await NetnsMesh.create({ hosts: 1, fstHosts: [], start: false })
    // what `ip netns exec` shows the commands as /etc: an `fst` group (docs/install.md step 2, which is not
    // run: it would add the group to this machine) and no name server (the docs' example peers stay unresolved)
    overlay = join('/etc/netns', mesh.host(1).ns)
    mkdirSync(overlay, { recursive: true })
    writeFileSync(join(overlay, 'group'), `${readFileSync('/etc/group', 'utf8').trimEnd()}\nfst:x:64242:\n`)
    writeFileSync(join(overlay, 'resolv.conf'), '')
  })
  afterAll(async () => {
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
    await mesh?.destroy()
    if (overlay !== '') rmSync(overlay, { recursive: true, force: true })
    expect(await leftoverNamespaces()).toEqual([])
  })

  /** A fresh server as the Debian package leaves it, under `prefix`, and a shell that runs blocks there. */
  function server () {
    const prefix = mkdtempSync(join(tmpdir(), 'fst-docs-'))
    const etc = join(prefix, 'etc/fst')
    mkdirSync(etc, { recursive: true })
    writeFileSync(join(etc, 'config.yml'), moved(readFileSync(join(ROOT, 'packaging/config.yml'), 'utf8'), prefix))
    cpSync(join(ROOT, 'config.yml.dist'), join(etc, 'config.yml.dist'))
    cpSync(join(ROOT, 'actions'), join(etc, 'actions'), { recursive: true })
    cpSync(join(ROOT, 'contrib'), join(prefix, 'usr/share/doc/fst/examples'), { recursive: true })
    mkdirSync(join(prefix, 'var/lib/fst'), { recursive: true, mode: 0o750 })
    // /usr/bin/fst and /usr/bin/fst-action: this checkout's
    const bin = join(prefix, 'bin')
    mkdirSync(bin)
    for (const [name, entry] of [['fst', 'packages/cli/bin/fst.js'], ['fst-action', 'packages/cli/bin/fst-action.cjs']]) {
      writeFileSync(join(bin, name!), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, entry!)}" "$@"\n`, { mode: 0o755 })
    }
    mkdirSync(join(prefix, 'home'))
    // FST_CONFIG: what /etc/fst/config.yml is to a command without --config on a server
    const env = { PATH: `${bin}:${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: join(prefix, 'home'), LANG: 'C.UTF-8', FST_CONFIG: join(etc, 'config.yml') }
    const shell = async (b: Block) => {
      const out = await mesh.exec(1, 'bash', ['--norc', '-euo', 'pipefail', '-c', moved(b.text, prefix)], { env, timeout: 30_000 })
      expect(out.code, `${b.file}:${b.line}: ${JSON.stringify(out)}`).toBe(0)
      return out
    }
    return { prefix, shell, run: (args: string[]) => mesh.exec(1, 'bash', ['--norc', '-c', args.join(' ')], { env }) }
  }

  it('README.md: steps 2 and 3 write a setup that fst check accepts', { timeout: 60_000 }, async () => {
    const s = server()
    for (const b of shellBlocks('README.md').filter(b => b.marker === 'run')) await s.shell(b)
    expect(readFileSync(join(s.prefix, 'etc/fst/sync-peers.txt'), 'utf8')).toBe('fw1.example.org\nfw2.example.org\nfw3.example.org\n')
    expect(parse(readFileSync(join(s.prefix, 'etc/fst/config.yml'), 'utf8'))).toMatchObject({ stateDir: `${s.prefix}/var/lib/fst`, scriptEnv: { FST_FAIL2BAN_JAIL: 'fst' } })
    // step 5 comes next: the unit creates /run/fst, then `fst check`
    mkdirSync(join(s.prefix, 'run/fst'), { recursive: true })
    const check = await s.run(['fst', 'check', '--config', join(s.prefix, 'etc/fst/config.yml')])
    expect(check.code, check.stderr).toBe(0)
    expect(check.stdout).toMatch(/config\.yml: OK/)
    rmSync(s.prefix, { recursive: true, force: true })
  })

  it('docs/install.md: configured, started without systemd, a ban reported, stopped as it says', { timeout: 90_000 }, async () => {
    const s = server()
    const blocks = shellBlocks('docs/install.md').filter(b => b.marker === 'run')
    expect(blocks.map(b => b.text.split('\n')[0])).toEqual([expect.stringMatching(/^cat >> \/etc\/fst\/config\.yml/), expect.stringMatching(/^install -d -m 0755 \/run\/fst/), expect.stringMatching(/^fst-action ban/)])
    const lock = join(s.prefix, 'var/lib/fst/fst.lock')
    const log = join(s.prefix, 'var/log/fst/fst.log')
    await s.shell(blocks[0]!)
    // "Without systemd": it ends with `fst start … &`; the node is up once its socket answers
    await s.shell(blocks[1]!)
    await pWaitFor(() => existsSync(lock), { interval: 50, timeout: 20_000 })
    const pid = Number(readFileSync(lock, 'utf8').split(' ')[0])
    pids.push(pid)
    await pWaitFor(async () => (await s.run(['fst', 'status'])).stdout.includes('peer ID'), { interval: 100, timeout: 20_000 })
    expect(statSync(join(s.prefix, 'run/fst')).mode & 0o777).toBe(0o755)
    const socket = statSync(join(s.prefix, 'run/fst/fst.sock'))
    expect(socket.mode & 0o777).toBe(0o660)
    expect(socket.gid).toBe(64242)
    // step 6: the hook, as any script would call it
    const hook = await s.shell(blocks[2]!)
    expect(hook.stderr).toBe('')
    expect((await s.run(['fst', 'list'])).stdout).toMatch(/^ban sshd tcp 22 203\.0\.113\.7 /m)
    // the umask: what the node created is not readable by others
    expect(statSync(join(s.prefix, 'var/lib/fst/ledger/data.mdb')).mode & 0o007).toBe(0)
    expect(statSync(log).mode & 0o007).toBe(0)

    // stop as the section says: SIGTERM to the pid in the lock
    const stop = await s.run(['kill', `"$(cut -d' ' -f1 ${lock})"`])
    expect(stop.code, stop.stderr).toBe(0)
    await pWaitFor(() => { try { process.kill(pid, 0); return false } catch { return true } }, { interval: 50, timeout: 20_000 })
    const lines = readFileSync(log, 'utf8').trim().split('\n').map(l => JSON.parse(l) as { msg: string, ip?: string })
    expect(lines.map(l => l.msg)).toEqual(expect.arrayContaining(['node started', 'published a local report']))
    expect(lines.find(l => l.msg === 'published a local report')?.ip).toBe('203.0.113.7')
    rmSync(s.prefix, { recursive: true, force: true })
  })
})
