import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Arch } from './arch.js'

/**
 * The Node runtime each package ships. The build machine's architecture ships the Node running the build
 * (or $FST_NODE_BINARY), as before; another architecture ships the npm registry's `node-linux-<arch>` package
 * of the same version, the package `npm install node@24` unpacks on such a machine, checked against the
 * registry's integrity hash and kept in a cache folder between builds.
 */
export interface Runtime {
  /** The `node` binary. */
  path: string
  /** `v24.21.0`. */
  version: string
  /** `process.versions.modules`: which prebuilt addons load. */
  abi: string
}

/** Node's version floor (package.json engines). */
const MIN_NODE: readonly [number, number] = [22, 12]

/**
 * The Node runtime to ship: $FST_NODE_BINARY, else the node running this build. It must be a self-contained
 * binary such as the nodejs.org builds or the npm `node` package: Debian's /usr/bin/node needs libnode.
 */
export function nodeRuntime (): Runtime {
  const path = process.env.FST_NODE_BINARY ?? process.execPath
  const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim()
  const [major = 0, minor = 0] = version.slice(1).split('.').map(Number)
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    throw new Error(`${path} is Node ${version}; the package needs >= ${MIN_NODE.join('.')} (set FST_NODE_BINARY or run on Node 24)`)
  }
  if (/libnode/.test(execFileSync('ldd', [path], { encoding: 'utf8' }))) {
    throw new Error(`${path} links a shared libnode: take a self-contained build (npm install --prefix DIR node@24), set FST_NODE_BINARY`)
  }
  const abi = execFileSync(path, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim()
  return { path, version, abi }
}

/** The registry pnpm uses (`pnpm config get registry`), with a trailing slash. */
function registry (): string {
  const url = execFileSync('pnpm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim() || 'https://registry.npmjs.org/'
  return url.endsWith('/') ? url : `${url}/`
}

/**
 * The runtime for `arch`: `host` itself when it is the build machine's architecture, else node-linux-<arch>
 * at host's version from the registry, cached in `cache` (same version, same ABI: the addons chosen for host
 * load there too).
 */
export async function runtimeFor (arch: Arch, host: Runtime, cache: string): Promise<Runtime> {
  if (arch.node === process.arch) return host
  const name = `node-linux-${arch.node}`
  const version = host.version.slice(1)
  const dir = join(cache, `${name}-${version}`)
  const path = join(dir, 'node')
  if (!existsSync(path)) await fetchRuntime(name, version, dir)
  return { path, version: host.version, abi: host.abi }
}

async function fetchRuntime (name: string, version: string, dir: string): Promise<void> {
  const meta = await fetch(`${registry()}${name}/${version}`)
  if (!meta.ok) throw new Error(`${name}@${version}: the registry answered ${meta.status}`)
  const { dist } = await meta.json() as { dist: { tarball: string, integrity: string } }
  const tarball = await fetch(dist.tarball)
  if (!tarball.ok) throw new Error(`${dist.tarball}: ${tarball.status}`)
  const bytes = Buffer.from(await tarball.arrayBuffer())
  const [algorithm, expected] = dist.integrity.split('-', 2) as [string, string]
  const actual = createHash(algorithm).update(bytes).digest('base64')
  if (actual !== expected) throw new Error(`${dist.tarball}: ${algorithm} ${actual}, the registry says ${expected}`)
  // unpacked beside the cache entry and renamed into place: an interrupted fetch leaves no entry a later build trusts
  mkdirSync(join(dir, '..'), { recursive: true })
  const staging = mkdtempSync(`${dir}.tmp-`)
  try {
    writeFileSync(join(staging, 'package.tgz'), bytes)
    execFileSync('tar', ['-xzf', join(staging, 'package.tgz'), '-C', staging, 'package/bin/node'])
    const out = join(staging, 'out')
    mkdirSync(out)
    renameSync(join(staging, 'package/bin/node'), join(out, 'node'))
    chmodSync(join(out, 'node'), 0o755)
    writeFileSync(join(out, 'SOURCE'), `${dist.tarball} ${dist.integrity}\n`)
    rmSync(dir, { recursive: true, force: true })
    renameSync(out, dir)
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}
