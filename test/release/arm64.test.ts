import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { Mesh, type NodeBins, ROOT, run } from '../utils/mesh.js'
import { ARM64_SYSROOT, elfMachine, QEMU, qemuBins, requireQemu } from '../utils/qemu.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version
/** Built once for the project by packages.setup.ts. */
const { arch: ARCH } = inject('packages')
const AARCH64 = 183
const BAN = ['ban', 'sshd', 'tcp', '22', '203.0.113.64', '600']

let dir: string | null = null
let top = ''
let bins: NodeBins
let mesh: Mesh | null = null

/** Files under `d` (relative paths) whose name matches. */
function find (d: string, match: (name: string) => boolean, prefix = ''): string[] {
  return readdirSync(join(d, prefix), { withFileTypes: true }).flatMap(e => {
    const rel = join(prefix, e.name)
    return e.isDirectory() ? find(d, match, rel) : match(e.name) ? [rel] : []
  })
}

/**
 * Issue 27: the arm64 tarball (the same payload as the arm64 .deb and RPM), built on this x86-64 machine, runs
 * under qemu-aarch64-static: its own aarch64 Node runtime and LMDB/msgpackr addons, `fst --version`,
 * `fst check`, and a 2-node mesh on 127.0.0.1 that delivers a ban reported with its fst-action. Short on
 * purpose: the emulator runs the node several times slower than this machine.
 */
describe('the arm64 tarball under qemu', () => {
  beforeAll(async () => {
    requireQemu()
    dir = mkdtempSync(join(tmpdir(), 'fst-arm64-'))
    const unpacked = await run('tar', ['-xzf', ARCH.arm64.tarball, '-C', dir])
    expect(unpacked.stderr).toBe('')
    top = join(dir, `fst-${VERSION}-linux-arm64`)
    bins = qemuBins(top, dir)
  })

  afterAll(async () => {
    await mesh?.stop()
    if (dir !== null) rmSync(dir, { recursive: true, force: true })
  })

  it('ships aarch64 code only: its Node runtime and the lockfile\'s linux-arm64 addons, no addon sources', () => {
    const addons = find(join(top, 'app'), n => n.endsWith('.node'))
    expect(addons.map(a => a.split('/').slice(-2, -1)[0]).sort()).toEqual(['lmdb-linux-arm64', 'msgpackr-extract-linux-arm64'])
    for (const binary of ['node', ...addons.map(a => join('app', a))]) expect(elfMachine(join(top, binary)), binary).toBe(AARCH64)
    // lmdb's vendored sources (lz4's Visual Studio files among them: lintian's windows-devel-file-in-package)
    expect(readdirSync(join(top, 'app/node_modules/lmdb'))).not.toContain('dependencies')
    expect(find(join(top, 'app'), n => /\.(sln|vcxproj|cpp)$/.test(n))).toEqual([])
  })

  it('the runtime is Node for arm64, and fst --version / fst-action --version run on it', async () => {
    const node = await run(QEMU, ['-L', ARM64_SYSROOT, join(top, 'node'), '-p', 'process.arch + " " + process.version'], { timeout: 60_000 })
    expect(node.stdout.trim()).toBe(`arm64 ${process.version}`)
    const fst = await run(bins.fst, ['--version'], { timeout: 60_000 })
    expect(fst.stderr).toBe('')
    expect(fst.stdout).toMatch(new RegExp(`^fst ${VERSION.replaceAll('.', '\\.')} \\(.*Node ${process.version}\\)\\n$`))
    const hook = await run(bins.fstAction, ['--version'], { timeout: 60_000 })
    expect(hook.stdout.startsWith(`fst-action ${VERSION} `)).toBe(true)
  }, 120_000)

  it('fst check passes on a node\'s config', async () => {
    mesh = await Mesh.create({ nodes: 2, start: false, bins: () => bins, startTimeout: 120_000 })
    const check = await mesh.fst(0, ['check'])
    expect(check.stderr).toBe('')
    expect(check.code).toBe(0)
    expect(check.stdout).toContain(`${mesh.nodes[0]!.configFile}: OK`)
  }, 120_000)

  it('two nodes on 127.0.0.1 deliver a ban reported with fst-action', async () => {
    const m = mesh!
    const started = performance.now()
    await m.startAll()
    const meshed = performance.now()
    const hook = await m.hook(0, BAN)
    expect(hook.stderr).toBe('')
    expect(hook.code).toBe(0)
    const runs = await m.waitForRuns(1, 1, 30_000)
    expect(runs).toHaveLength(1)
    expect(runs[0]).toMatch(/^ban sshd .*203\.0\.113\.64/)
    expect((await m.status(1)).ledger.entries).toBe(1)
    // the LMDB ledger of the aarch64 addon holds it
    expect((await m.status(0)).ledger.entries).toBe(1)
    const s = (from: number, to: number) => ((to - from) / 1000).toFixed(1)
    console.log(`release: arm64 under qemu: 2 nodes meshed in ${s(started, meshed)} s, the ban reported and run on node 1 in ${s(meshed, performance.now())} s`)
  }, 300_000)
})
