import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { stringify } from 'yaml'
import { ask } from '@fst/cli'
import { launchBrowser } from '../utils/browser.js'
import { dpkg, packageStatus, refuseInstalled, SERVICE_ENV as ENV } from '../utils/deb.js'
import { freePort, type ListedEntry, type NodeStatus, ROOT, run, waitMeshed, waitStarted } from '../utils/mesh.js'
import { FST_PORT, NetnsMesh, requireRoot } from '../utils/netns.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version
/** Built once for the project by packages.setup.ts. */
const { out: OUT, deb: DEB, tarball: TARBALL, geoip: { deb: GEOIP_DEB } } = inject('packages')
const CONFIG = '/etc/fst/config.yml'
const SOCKET = '/run/fst/fst.sock'
const KEY = '/var/lib/fst/identity.key'
const BAN = ['ban', 'sshd', 'tcp', '22', '203.0.113.7', '600']

let mesh: NetnsMesh | null = null
let createdRunDir = false
let installedByUs = false
/** Regular files and conffiles of the installed package (from `dpkg -L` and dpkg's status). */
let packageFiles: string[] = []
let conffiles: string[] = []
const nodes: Record<1 | 2, ChildProcess | null> = { 1: null, 2: null }

function sha256 (file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

/** Processes running the package's Node runtime (also a replaced one), by /proc/<pid>/exe. */
function runtimePids (): number[] {
  return readdirSync('/proc').filter(p => /^\d+$/.test(p)).filter(p => {
    try { return readlinkSync(`/proc/${p}/exe`).startsWith('/usr/lib/fst/node') } catch { return false }
  }).map(Number)
}

/** Child processes of a process (the node's perl fork server). */
function childrenOf (pid: number): number[] {
  return readdirSync('/proc').filter(p => /^\d+$/.test(p)).filter(p => {
    try { return Number(readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]) === pid } catch { return false }
  }).map(Number)
}

/** Starts `/usr/bin/fst start` on a host: host 1 with no --config (the installed /etc/fst/config.yml). */
async function startNode (index: 1 | 2): Promise<void> {
  const m = mesh!
  const args = index === 1 ? ['start'] : ['start', '--config', m.host(2).configFile]
  const child = m.spawnIn(index, '/usr/bin/fst', args, { env: ENV })
  nodes[index] = child
  await waitStarted(child, `installed fst on host ${index}`, child.output, () => status(index), 30_000)
}

/** SIGTERM to a process started here, resolved once it has exited (at once if it has already). */
async function terminate (child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function stopNode (index: 1 | 2): Promise<void> {
  await terminate(nodes[index])
  nodes[index] = null
}

async function status (index: 1 | 2): Promise<NodeStatus> {
  const answer = await ask(index === 1 ? SOCKET : mesh!.host(2).socket, { op: 'status' })
  if (!answer.ok) throw new Error(`status of host ${index}: ${answer.error}`)
  return answer as unknown as NodeStatus
}

/** `fst list --json` of the installed fst on a host (host 1: default config). */
async function list (index: 1 | 2): Promise<ListedEntry[]> {
  const config = index === 1 ? [] : ['--config', mesh!.host(2).configFile]
  const out = await mesh!.exec(index, '/usr/bin/fst', ['list', '--json', ...config], { env: ENV })
  if (out.code !== 0) throw new Error(`fst list on host ${index}: ${out.stderr}`)
  return JSON.parse(out.stdout) as ListedEntry[]
}

/**
 * Issue 17, the release: `packaging/build.ts` (what `pnpm package` runs after the build) makes the .deb and
 * the tarball once (packages.setup.ts); the .deb is installed into this machine with dpkg and everything after uses only the
 * installed files: /usr/bin/fst and /usr/bin/fst-action in two network namespaces (10.77.x), an upgrade
 * with an edited conffile, removal while a node runs, purge. lintian: packages.test.ts. afterAll purges the package, also on failure.
 * Refuses to run where an fst package or /etc/fst is already present (a real installation).
 */
describe('the Debian package and the tarball', () => {
  beforeAll(async () => {
    requireRoot()
    await refuseInstalled()
  })

  afterAll(async () => {
    await mesh?.destroy()
    if (installedByUs && await packageStatus() !== null) await run('dpkg', ['--purge', 'fst'], { input: '', timeout: 180_000 })
    if (installedByUs) rmSync('/etc/fst', { recursive: true, force: true })
    if (installedByUs) rmSync('/var/lib/fst', { recursive: true, force: true })
    if (installedByUs) rmSync('/var/spool/fst', { recursive: true, force: true })
    if (createdRunDir) rmSync('/run/fst', { recursive: true, force: true })
  }, 240_000)

  it('the tarball unpacks and runs on its own Node runtime', async () => {
    const dir = join(OUT, 'unpacked')
    mkdirSync(dir)
    expect((await run('tar', ['-xzf', TARBALL, '-C', dir])).code).toBe(0)
    const top = join(dir, `fst-${VERSION}-linux-x64`)
    const fst = await run(join(top, 'bin/fst'), ['--version'], { env: ENV })
    expect(fst.stdout.trim()).toBe(versionLine('fst', fst.stdout))
    expect(fst.stdout).toContain(`Node ${process.version}`)
    const hook = await run(join(top, 'bin/fst-action'), ['--version'], { env: ENV })
    expect(hook.stdout.startsWith(`fst-action ${VERSION} `)).toBe(true)
    for (const file of ['etc/config.yml', 'etc/config.yml.dist', 'etc/actions/ban.d/50-fail2ban.batch', 'contrib/systemd/fst-server.service', 'docs/install.md']) {
      expect(existsSync(join(top, file)), file).toBe(true)
    }
    console.log(`release: the tarball runs: ${fst.stdout.trim()}`)
  })

  it('installs with dpkg -i: fst --version, conffiles, an empty state folder, units that verify', async () => {
    installedByUs = true
    await dpkg(['-i', DEB])
    expect(await packageStatus()).toBe('install ok installed')
    const fst = await run('/usr/bin/fst', ['--version'], { env: ENV })
    expect(fst.code).toBe(0)
    expect(fst.stdout.trim()).toBe(versionLine('fst', fst.stdout))
    // the shipped runtime is the Node the package was built with
    expect(fst.stdout).toContain(`Node ${process.version}`)
    expect((await run('/usr/bin/fst-action', ['--version'], { env: ENV })).stdout.startsWith(`fst-action ${VERSION} `)).toBe(true)

    const listed = (await run('dpkg', ['-L', 'fst'])).stdout.split('\n').filter(Boolean)
    packageFiles = listed.filter(p => existsSync(p) && lstatSync(p).isFile())
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format syntax
    const status = await run('dpkg-query', ['-W', '-f=${Conffiles}', 'fst'])
    conffiles = status.stdout.split('\n').map(l => l.trim().split(' ')[0]!).filter(Boolean)
    for (const c of [CONFIG, '/etc/fst/config.yml.dist', '/etc/fst/actions/ban.d/50-fail2ban.batch', '/etc/fst/actions/lib/fst-fail2ban', '/etc/logrotate.d/fst']) {
      expect(conffiles).toContain(c)
    }
    // postinst creates nothing secret: the key is written by the node on its first start
    expect(statSync('/var/lib/fst').mode & 0o7777).toBe(0o750)
    expect(readdirSync('/var/lib/fst')).toEqual([])
    // the spool of reports made while the node is down (spool.dir): root only
    expect(statSync('/var/spool/fst').mode & 0o7777).toBe(0o700)
    expect(existsSync('/usr/lib/fst/node')).toBe(true)

    const server = readFileSync('/lib/systemd/system/fst-server.service', 'utf8')
    expect(server).toMatch(/^ExecStart=\/usr\/bin\/fst start --config \/etc\/fst\/config.yml$/m)
    expect(readFileSync('/lib/systemd/system/fst-metrics.service', 'utf8')).toMatch(/^ExecStart=\/usr\/bin\/fst metrics /m)
    expect(readFileSync('/usr/share/doc/fst/examples/fail2ban/action.d/fst.conf', 'utf8')).toMatch(/^fst_action = \/usr\/bin\/fst-action$/m)
    const verify = await run('systemd-analyze', ['verify', '--man=no', '/lib/systemd/system/fst-server.service', '/lib/systemd/system/fst-metrics.service'], { env: { ...ENV, SYSTEMD_LOG_LEVEL: 'notice' } })
    expect(verify.stderr).toBe('')
    expect(verify.code).toBe(0)
    console.log(`release: installed ${packageFiles.length} files, ${conffiles.length} conffiles; ${fst.stdout.trim()}; the installed units pass systemd-analyze verify`)
  }, 240_000)

  it('a fresh install passes fst check before the unit ever started (README step 5)', async () => {
    // README step 2: the peers file; nothing else has run yet, so /run/fst (the unit's RuntimeDirectory) is absent
    const peers = '/etc/fst/sync-peers.txt'
    const hadPeers = existsSync(peers)
    const runtimeDir = existsSync('/run/fst')
    if (!hadPeers) writeFileSync(peers, '127.0.0.1\n')
    try {
      const check = await run('/usr/bin/fst', ['check'], { env: ENV })
      expect(check.stderr).toBe('')
      expect(check.code).toBe(0)
      expect(check.stdout).toMatch(/\/etc\/fst\/config\.yml: OK/)
      expect(check.stdout.includes('the systemd unit creates it')).toBe(!runtimeDir)
    } finally {
      if (!hadPeers) rmSync(peers, { force: true })
    }
  })

  it('the dashboard of the installed fst metrics says the GeoIP data is missing, and shows countries once fst-geoip is installed', async () => {
    const dir = mkdtempSync(join(OUT, 'metrics-'))
    const [p2p, http] = [await freePort(), await freePort()]
    writeFileSync(join(dir, 'sync-peers.txt'), `127.0.0.1:${p2p}\n`)
    const config = join(dir, 'config.yml')
    writeFileSync(config, stringify({ listen: [`127.0.0.1:${p2p}`], peersFile: 'sync-peers.txt', stateDir: 'state', metrics: { listen: `127.0.0.1:${http}` } }))
    const url = `http://127.0.0.1:${http}/`
    let service: ChildProcess | null = null
    const start = async () => {
      const child = spawn('/usr/bin/fst', ['metrics', '--config', config], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
      let output = ''
      for (const stream of [child.stdout, child.stderr]) stream.on('data', (d: Buffer) => { output += d.toString() })
      service = child
      await pWaitFor(async () => {
        if (child.exitCode !== null) throw new Error(`fst metrics exited: ${output}`)
        return (await fetch(`${url}api/summary`).catch(() => null))?.status === 200
      }, { interval: 100, timeout: 30_000 })
      return () => output
    }
    const stop = () => terminate(service)
    const summary = async () => (await (await fetch(`${url}api/summary`)).json()) as { geo: string }
    const lookup = async (ip: string) => ((await (await fetch(`${url}api/address?ip=${ip}`)).json()) as { geo: unknown }).geo
    const browser = await launchBrowser()
    try {
      const page = await browser.context.newPage()
      // biome-ignore lint/performance/useDomNodeTextContent: a Locator method
      const countries = () => page.locator('#top-countries').innerText()
      const log = await start()
      expect((await summary()).geo).toBe('missing')
      expect(await lookup('8.8.8.8')).toBeNull()
      expect(log()).toMatch(/geo databases not available \(install fst-geoip\)/)
      await page.goto(url)
      await expect.poll(countries).toBe('no GeoIP data: install the fst-geoip package')
      await stop()

      await dpkg(['-i', GEOIP_DEB])
      await start()
      expect((await summary()).geo).toBe('on')
      expect(await lookup('8.8.8.8')).toMatchObject({ country: 'US', asn: 15169 })
      await page.reload()
      await expect.poll(countries).toBe('nothing yet')
      console.log('release: dashboard without fst-geoip says so; with it, 8.8.8.8 is US, AS15169')
    } finally {
      await stop()
      await browser.close()
      if (await packageStatus('fst-geoip') !== null) await dpkg(['--purge', 'fst-geoip'])
    }
  }, 180_000)

  it('two nodes started from /usr/bin/fst in namespaces exchange a ban reported with /usr/bin/fst-action', async () => {
    mesh = await NetnsMesh.create({ hosts: 2, fstHosts: [2], start: false })
    const peers = join(mesh.root, 'sync-peers.txt')
    writeFileSync(peers, `${mesh.addr(1)}:${FST_PORT}\n${mesh.addr(2)}:${FST_PORT}\n`)
    mesh.installScript(2, 'ban', '50-record', { body: `#!/bin/sh\nprintf '%s\\n' "$*" >> '${join(mesh.host(2).dir, 'runs.log')}'\n` })
    // host 1 is the installed layout: /etc/fst/config.yml (edited), /var/lib/fst, /run/fst/fst.sock
    writeFileSync(CONFIG, `${readFileSync(CONFIG, 'utf8')}# edited by test/release/deb.test.ts\nlisten: ["${mesh.addr(1)}:${FST_PORT}"]\npeersFile: ${peers}\nredial: { minMs: 100, maxMs: 1000 }\n`)
    if (!existsSync('/run/fst')) {
      // systemd's RuntimeDirectory= in production
      mkdirSync('/run/fst', { mode: 0o755 })
      createdRunDir = true
    }
    await Promise.all([startNode(1), startNode(2)])
    await waitMeshed([() => status(1), () => status(2)], 100, 30_000)
    // the launcher starts the shipped node as the bin's shebang asks (`ip netns exec` and sh exec in place)
    const pid = nodes[1]!.pid!
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_ARENA_MAX=2')
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 2)).toEqual(['/usr/lib/fst/node', '--max-semi-space-size=4'])

    // no --config, no --socket: the hook finds /etc/fst/config.yml and its controlSocket
    const hook = await mesh.exec(1, '/usr/bin/fst-action', BAN, { env: ENV })
    expect(hook.stderr).toBe('')
    expect(hook.code).toBe(0)
    const origin = (await status(1)).peerId
    await pWaitFor(async () => (await list(2)).some(e => e.ip === '203.0.113.7' && e.action === 'ban' && e.origin === origin), { interval: 200, timeout: 20_000 })
    const runs = join(mesh.host(2).dir, 'runs.log')
    await pWaitFor(() => existsSync(runs) && readFileSync(runs, 'utf8').includes('sshd tcp 22 203.0.113.7'), { interval: 50, timeout: 20_000 })
    expect((await list(1)).map(e => e.ip)).toContain('203.0.113.7')
    // the key was created on the first start, private
    expect(statSync(KEY).mode & 0o777).toBe(0o600)
    console.log('release: a ban reported with /usr/bin/fst-action on host 1 reached host 2\'s ledger and ban.d script')
  }, 120_000)

  it('an upgrade (dpkg -i again) keeps the edited config.yml and the state: same node identity after', async () => {
    const config = readFileSync(CONFIG, 'utf8')
    const key = sha256(KEY)
    const peerId = (await status(1)).peerId
    await stopNode(1)
    await dpkg(['-i', DEB])
    expect(readFileSync(CONFIG, 'utf8')).toBe(config)
    expect(sha256(KEY)).toBe(key)
    await startNode(1)
    expect((await status(1)).peerId).toBe(peerId)
    await waitMeshed([() => status(1), () => status(2)], 100, 30_000)
    console.log('release: the upgrade kept config.yml and /var/lib/fst; the restarted node has the same peer ID')
  }, 240_000)

  it('dpkg -r stops the running nodes and leaves only the conffiles and the state', async () => {
    const pid = nodes[1]!.pid!
    const helpers = childrenOf(pid)
    const exits = ([1, 2] as const).map(i => new Promise(resolve => {
      const child = nodes[i]!
      if (child.exitCode !== null || child.signalCode !== null) resolve(null)
      else child.once('exit', resolve)
    }))
    expect(runtimePids()).toContain(pid)
    await dpkg(['-r', 'fst'])
    await Promise.all(exits)
    nodes[1] = nodes[2] = null
    expect(runtimePids()).toEqual([])
    await pWaitFor(() => helpers.every(h => !existsSync(`/proc/${h}`)), { interval: 50, timeout: 10_000 })
    expect(await packageStatus()).toBe('deinstall ok config-files')
    const left = packageFiles.filter(f => existsSync(f) && !conffiles.includes(f))
    expect(left).toEqual([])
    expect(existsSync('/usr/lib/fst')).toBe(false)
    for (const c of conffiles) expect(existsSync(c), c).toBe(true)
    expect(existsSync(KEY)).toBe(true)
    console.log(`release: dpkg -r stopped 2 nodes (and ${helpers.length} helper process(es)); kept ${conffiles.length} conffiles and /var/lib/fst`)
  }, 240_000)

  it('dpkg --purge removes /etc/fst and /var/lib/fst', async () => {
    await dpkg(['--purge', 'fst'])
    expect(await packageStatus()).toBeNull()
    expect(existsSync('/etc/fst')).toBe(false)
    expect(existsSync('/var/lib/fst')).toBe(false)
    expect(existsSync('/var/spool/fst')).toBe(false)
    expect(existsSync('/etc/logrotate.d/fst')).toBe(false)
  }, 240_000)
})

/** The line `--version` must print: `<program> <version> (git <commit>, Node <v>)`, the commit optional. */
function versionLine (program: string, printed: string): string {
  const m = new RegExp(`^${program} ${VERSION.replaceAll('.', '\\.')} \\((?:git [0-9a-f]{7,40}(?:-dirty)?, )?Node v\\d+\\.\\d+\\.\\d+\\)$`).exec(printed.trim())
  return m === null ? `${program} ${VERSION} (…, Node …), got ${JSON.stringify(printed)}` : m[0]
}
