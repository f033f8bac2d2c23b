import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { FST, FST_ACTION, freePort, installScript, Mesh, run, type RunResult } from '../utils/mesh.js'

/**
 * The mistakes an administrator makes, each run as a real process against a fresh copy of a working setup:
 * the exit code is the documented one, stderr is one line naming the file/key/entry, there is no stack trace,
 * and the setup's folder holds exactly what it held before (no key, no state dir, no socket, no script run).
 */

/** A working setup in `dir`: config.yml, sync-peers.txt, a recording ban.d script. */
function writeSetup (dir: string, config: Record<string, unknown> = {}): void {
  writeFileSync(join(dir, 'sync-peers.txt'), '127.0.0.1:4901\n127.0.0.1:4902\n')
  installScript(dir, 'ban', '50-record', { body: '#!/bin/sh\necho "$*" >> ../../runs.log\n' })
  writeFileSync(join(dir, 'config.yml'), stringify({ listen: ['127.0.0.1:0'], peersFile: 'sync-peers.txt', stateDir: 'state', controlSocket: 'state/fst.sock', ...config }))
}

/** Every path under `dir` with its size and mode: what a mistake must leave unchanged. */
function snapshot (dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name)
      const st = statSync(path)
      out.push(`${relative(dir, path)} ${st.isDirectory() ? 'dir' : st.size} ${(st.mode & 0o7777).toString(8)}`)
      if (st.isDirectory()) walk(path)
    }
  }
  walk(dir)
  return out
}

interface Mistake {
  what: string
  /** Changes the fresh setup (a bad key, a missing file, ...); returns extra arguments if any. */
  setup?: (dir: string) => void
  bin?: 'fst' | 'fst-action'
  /** Arguments; `{config}` is replaced by the setup's config file and `{dir}` by its folder. */
  args: string[]
  code: number
  /** What the one stderr line must name. */
  names: RegExp
}

// filled in beforeAll: a running 2-node mesh for the mistakes that need a node
let mesh: Mesh
let busy: Server
let busyPort = 0
const node0 = () => mesh.nodes[0]!.configFile

const MISTAKES: Mistake[] = [
  // configuration
  { what: 'config file missing', args: ['start', '--config', '{dir}/nope.yml'], code: 2, names: /nope\.yml: cannot read/ },
  { what: 'config not YAML', setup: d => writeFileSync(join(d, 'config.yml'), 'listen: [\n'), args: ['start', '--config', '{config}'], code: 2, names: /config\.yml: not valid YAML/ },
  { what: 'config a list, not a mapping', setup: d => writeFileSync(join(d, 'config.yml'), '- listen\n'), args: ['check', '--config', '{config}'], code: 2, names: /must be a mapping/ },
  { what: 'unknown key (typo)', setup: d => writeSetup(d, { statedir: 'x' }), args: ['start', '--config', '{config}'], code: 2, names: /unknown key statedir/ },
  { what: 'value out of range', setup: d => writeSetup(d, { batch: { maxEvents: 5000 } }), args: ['start', '--config', '{config}'], code: 2, names: /batch\.maxEvents: .*5000/ },
  { what: 'unparsable ignore entry', setup: d => writeSetup(d, { ignore: ['192.0.2.0/24', '10.0.0.300'] }), args: ['start', '--config', '{config}'], code: 2, names: /ignore\.1: not an IPv4 or IPv6 address: "10\.0\.0\.300"/ },
  { what: 'listen entry with a hostname', setup: d => writeSetup(d, { listen: ['localhost:4242'] }), args: ['start', '--config', '{config}'], code: 2, names: /listen\.0: listen entries are/ },
  { what: 'bad log level', setup: d => writeSetup(d, { logLevel: 'verbose' }), args: ['start', '--config', '{config}'], code: 2, names: /logLevel/ },
  { what: 'controlGroup that does not exist', setup: d => writeSetup(d, { controlGroup: 'no-such-group-fst' }), args: ['start', '--config', '{config}'], code: 2, names: /controlGroup: no such group "no-such-group-fst"/ },
  { what: 'networkKeyFile missing', setup: d => writeSetup(d, { networkKeyFile: 'swarm.key' }), args: ['start', '--config', '{config}'], code: 2, names: /networkKeyFile: .*swarm\.key: cannot read: no such file/ },
  { what: 'networkKeyFile that is no swarm key', setup: d => { writeSetup(d, { networkKeyFile: 'swarm.key' }); writeFileSync(join(d, 'swarm.key'), 'secret\n') }, args: ['start', '--config', '{config}'], code: 2, names: /networkKeyFile: .*swarm\.key: not a libp2p swarm key/ },
  { what: 'check: actionsDir missing', setup: d => writeSetup(d, { actionsDir: 'nowhere' }), args: ['check', '--config', '{config}'], code: 2, names: /actionsDir: .*nowhere: no such directory/ },
  // peers file
  { what: 'sync-peers.txt missing', setup: d => rmSync(join(d, 'sync-peers.txt')), args: ['start', '--config', '{config}'], code: 2, names: /peersFile: .*sync-peers\.txt: cannot read: no such file/ },
  { what: 'bad peers entry', setup: d => writeFileSync(join(d, 'sync-peers.txt'), '127.0.0.1:4901\nfw_2.example.org\n'), args: ['start', '--config', '{config}'], code: 2, names: /sync-peers\.txt: line 2: "fw_2\.example\.org": not a hostname/ },
  { what: 'bad pinned peer ID', setup: d => writeFileSync(join(d, 'sync-peers.txt'), '12D3KooWnotanid@127.0.0.1:4901\n'), args: ['start', '--config', '{config}'], code: 2, names: /line 1: .*not a peer ID/ },
  { what: 'bad port in peers entry', setup: d => writeFileSync(join(d, 'sync-peers.txt'), '127.0.0.1:99999\n'), args: ['check', '--config', '{config}'], code: 2, names: /line 1: .*port must be 1-65535/ },
  // command line
  { what: 'unknown command', args: ['bna', '203.0.113.7'], code: 2, names: /unknown command 'bna' \(Did you mean ban\?\) \(see fst --help\)/ },
  { what: 'missing argument', args: ['ban'], code: 2, names: /missing required argument 'ip'/ },
  { what: 'unknown option', args: ['ban', '203.0.113.7', '--jail', 'sshd'], code: 2, names: /unknown option '--jail'/ },
  { what: 'not an address', args: ['ban', '203.0.113.300', '--config', '{config}'], code: 2, names: /not an IPv4 or IPv6 address/ },
  { what: 'duration without a number', args: ['ban', '203.0.113.7', '--duration', 'soon', '--config', '{config}'], code: 2, names: /--duration: expected seconds/ },
  { what: 'unknown export format', args: ['export', '--format', 'xml', '--config', '{config}'], code: 2, names: /--format: one of text, json, nft/ },
  { what: 'completion for an unknown shell', args: ['completion', 'fish'], code: 2, names: /unknown shell "fish"/ },
  { what: 'hook: too few fields', bin: 'fst-action', args: ['--config', '{config}', 'ban', 'sshd', 'tcp'], code: 2, names: /expected 5 or 6 arguments/ },
  { what: 'hook: shell metacharacter in protocol', bin: 'fst-action', args: ['--config', '{config}', 'ban', 'sshd', 'tcp;id', '22', '203.0.113.7'], code: 2, names: /protocol must match/ },
  { what: 'hook: duration not whole seconds', bin: 'fst-action', args: ['--config', '{config}', 'ban', 'sshd', 'tcp', '22', '203.0.113.7', '10m'], code: 2, names: /duration must be whole seconds/ },
  // missing files, keys
  { what: 'publish --file that does not exist', args: ['publish', '--file', '/nonexistent/bans.txt', '--config', '{config}'], code: 2, names: /--file \/nonexistent\/bans\.txt: no such file/ },
  { what: 'import of a file that does not exist', args: ['import', '{dir}/list.txt', '--config', '{config}'], code: 2, names: /list\.txt: cannot read: no such file/ },
  { what: 'import of a list with a bad line', setup: d => writeFileSync(join(d, 'list.txt'), '# drop list\n198.51.100.7\nnot-an-address ; SBL1\n'), args: ['import', '{dir}/list.txt', '--config', '{config}'], code: 2, names: /list\.txt:3: not an IPv4 or IPv6 address: "not-an-address"; nothing published/ },
  { what: 'id before the node ever started', args: ['id', '--config', '{config}'], code: 2, names: /identity\.key: no identity key yet/ },
  // without --config (and $FST_CONFIG): never a key made in the current directory as a side effect
  { what: 'id without any config', args: ['id'], code: 2, names: /identity\.key: no identity key yet|config\.yml: cannot read/ },
  { what: 'id with a key that is a folder', setup: d => mkdirSync(join(d, 'state', 'identity.key'), { recursive: true }), args: ['id', '--config', '{config}'], code: 2, names: /identity\.key: cannot read the identity key: is a directory/ },
  { what: 'keygen over an existing file', setup: d => writeFileSync(join(d, 'swarm.key'), 'old'), args: ['keygen', '{dir}/swarm.key'], code: 2, names: /swarm\.key: already exists; fst keygen never overwrites/ },
  // permissions
  { what: 'check: identity key readable by others', setup: d => { mkdirSync(join(d, 'state')); cpSync(join(d, '..', 'key.template'), join(d, 'state', 'identity.key')); chmodSync(join(d, 'state', 'identity.key'), 0o644) }, args: ['check', '--config', '{config}'], code: 2, names: /identity\.key: the identity key is readable by others \(mode 0644\)/ },
  { what: 'check: script without execute bit', setup: d => chmodSync(join(d, 'actions', 'ban.d', '50-record'), 0o644), args: ['check', '--config', '{config}'], code: 2, names: /50-record: not executable, so never run/ },
  { what: 'check: ledger file damaged', setup: d => { mkdirSync(join(d, 'state', 'ledger'), { recursive: true }); writeFileSync(join(d, 'state', 'ledger', 'data.mdb'), Buffer.alloc(4096)) }, args: ['check', '--config', '{config}'], code: 2, names: /state\/ledger\/data\.mdb: the ledger file is damaged \(meta page 0: magic 0x00000000.*move it aside/ },
  { what: 'start: ledger file damaged, onDamage refuse', setup: d => { writeSetup(d, { ledger: { onDamage: 'refuse' } }); mkdirSync(join(d, 'state', 'ledger'), { recursive: true }); writeFileSync(join(d, 'state', 'ledger', 'data.mdb'), Buffer.alloc(8192)) }, args: ['start', '--config', '{config}'], code: 2, names: /state\/ledger\/data\.mdb: the ledger file is damaged .*ledger\.onDamage: refuse/ },
  // issue 27: an address of another server passed `fst check` and failed `fst start`; both say the same now
  { what: 'check: listen address not on this server', setup: d => writeSetup(d, { listen: ['192.0.2.1:4242'] }), args: ['check', '--config', '{config}'], code: 2, names: /listen: 192\.0\.2\.1:4242: address not available on this server/ },
  { what: 'start: listen address not on this server', setup: d => writeSetup(d, { listen: ['192.0.2.1:4242'] }), args: ['start', '--config', '{config}'], code: 2, names: /listen: 192\.0\.2\.1:4242: address not available on this server/ },
  { what: 'check: metricsListen address not on this server', setup: d => writeSetup(d, { metricsListen: '[2001:db8::1]:9465' }), args: ['check', '--config', '{config}'], code: 2, names: /metricsListen: \[2001:db8::1\]:9465: address not available on this server/ },
  { what: 'check: control socket under a file', setup: d => { writeSetup(d, { controlSocket: 'config.yml/fst.sock' }) }, args: ['check', '--config', '{config}'], code: 2, names: /controlSocket: .*config\.yml\/fst\.sock/ },
  { what: 'start: control socket in a folder that does not exist', setup: d => { writeSetup(d, { controlSocket: 'run/fst.sock' }) }, args: ['start', '--config', '{config}'], code: 2, names: /controlSocket: .*run\/fst\.sock: .*run does not exist/ },
  // a node that is not there, busy ports, a second instance
  { what: 'status with no node running', args: ['status', '--config', '{config}'], code: 3, names: /cannot reach the node at .*fst\.sock: no FST node is running/ },
  // with no node the hook queues the report in the spool (test/cli/spool.test.ts); exit 3 only when it cannot
  { what: 'hook with no node running and a spool it cannot create', setup: d => writeSetup(d, { spool: { dir: 'config.yml/spool' } }), bin: 'fst-action', args: ['--config', '{config}', 'ban', 'sshd', 'tcp', '22', '203.0.113.7'], code: 3, names: /no FST node is running; the report could not be queued in .*config\.yml\/spool/ },
  { what: 'listen port busy', setup: d => writeSetup(d, { listen: [`127.0.0.1:${busyPort}`] }), args: ['start', '--config', '{config}'], code: 2, names: /listen: 127\.0\.0\.1:\d+: address already in use/ },
  { what: 'metricsListen port busy', setup: d => writeSetup(d, { metricsListen: `127.0.0.1:${busyPort}` }), args: ['start', '--config', '{config}'], code: 2, names: /metricsListen: 127\.0\.0\.1:\d+: address already in use/ },
  { what: 'second fst start on a running node\'s state dir', args: ['start', '--config', '@node0'], code: 2, names: /stateDir: .*another fst node \(pid \d+\) is using it/ },
  { what: 'unban of an address never banned', args: ['unban', '203.0.113.99', '--config', '@node0'], code: 1, names: /nothing to unban: no active ban of 203\.0\.113\.99/ },
  { what: 'unban under the wrong name', args: ['unban', '198.51.100.50', '--name', 'nginx', '--config', '@node0'], code: 1, names: /nothing to unban: .* under the name nginx/ },
  { what: 'publish unban of the wrong jail', args: ['publish', 'unban', 'nginx', 'tcp', '22', '198.51.100.50', '--config', '@node0'], code: 1, names: /nothing to unban/ },
  { what: 'ban of a protected address', args: ['ban', '127.0.0.1', '--config', '@node0'], code: 1, names: /refused by the node: .*protected/ }
]

describe('user mistakes: one line, documented exit code, no side effect', () => {
  const root = mkdtempSync(join(tmpdir(), 'fst-mistakes-'))

  beforeAll(async () => {
    mesh = await Mesh.create({ nodes: 2 })
    // a key file to copy where a case needs one: what `fst start` writes
    const key = await mesh.fst(0, ['id'])
    expect(key.code, key.stderr).toBe(0)
    cpSync(join(mesh.nodes[0]!.dir, 'state', 'identity.key'), join(root, 'key.template'))
    // an address node 0 holds under the name sshd, received from node 1: its script ran once
    expect((await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', '198.51.100.50'])).code).toBe(0)
    await mesh.waitForRuns(0, 1)
    busyPort = await freePort()
    busy = createServer()
    await new Promise<void>(resolve => busy.listen(busyPort, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    await new Promise(resolve => (busy === undefined ? resolve(undefined) : busy.close(resolve)))
    await mesh?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('covers at least 25 mistakes', () => {
    expect(MISTAKES.length).toBeGreaterThanOrEqual(25)
  })

  it.each(MISTAKES.map(m => [m.what, m] as const))('%s', async (_what, m) => {
    const dir = mkdtempSync(join(root, 'case-'))
    writeSetup(dir)
    m.setup?.(dir)
    const before = snapshot(dir)
    const runsBefore = mesh.runs(0).length
    const ledgerBefore = (await mesh.status(0)).ledger.entries
    const args = m.args.map(a => a.replace('{config}', join(dir, 'config.yml')).replace('{dir}', dir).replace('@node0', node0()))
    const out: RunResult = await run(process.execPath, [m.bin === 'fst-action' ? FST_ACTION : FST, ...args], { cwd: dir, timeout: 30_000 })
    const lines = out.stderr.trim().split('\n')
    expect(out.code, out.stderr).toBe(m.code)
    expect(lines, out.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`^${m.bin ?? 'fst'}: `))
    expect(lines[0]).toMatch(m.names)
    expect(out.stderr).not.toMatch(/\n\s+at |Error:|node:internal/)
    // nothing created, nothing run, nothing recorded
    expect(snapshot(dir)).toEqual(before)
    expect(mesh.runs(0)).toHaveLength(runsBefore)
    expect((await mesh.status(0)).ledger.entries).toBe(ledgerBefore)
    rmSync(dir, { recursive: true, force: true })
  })

  it('fst check names every problem, one line each, and exit 2', async () => {
    const dir = mkdtempSync(join(root, 'check-'))
    writeSetup(dir, { actionsDir: 'nowhere', ignore: ['not-an-ip'] })
    const badKey = await run(process.execPath, [FST, 'check', '--config', join(dir, 'config.yml')], { cwd: dir })
    // a config problem stops the check there: the paths it would check are not known yet
    expect(badKey.code).toBe(2)
    expect(badKey.stderr).toMatch(/^fst: .*config\.yml: ignore\.0: not an IPv4 or IPv6 address: "not-an-ip"/)
    writeSetup(dir, { actionsDir: 'nowhere', networkKeyFile: 'swarm.key' })
    rmSync(join(dir, 'sync-peers.txt'))
    const before = snapshot(dir)
    const out = await run(process.execPath, [FST, 'check', '--config', join(dir, 'config.yml')], { cwd: dir })
    expect(out.code).toBe(2)
    expect(out.stdout).toBe('')
    const lines = out.stderr.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^fst: peersFile: .*sync-peers\.txt: cannot read/)
    expect(lines[1]).toMatch(/^fst: actionsDir: .*nowhere: no such directory/)
    expect(lines[2]).toMatch(/^fst: networkKeyFile: .*swarm\.key: cannot read/)
    expect(snapshot(dir)).toEqual(before)
  })

  it('the running node kept its lock and its bans through it all', async () => {
    expect(readFileSync(join(mesh.nodes[0]!.dir, 'state', 'fst.lock'), 'utf8')).toMatch(new RegExp(`^${mesh.nodes[0]!.process!.pid} `))
    expect((await mesh.list(0)).map(e => e.ip)).toEqual(['198.51.100.50'])
    expect(mesh.runs(0)).toHaveLength(1)
  })
})
