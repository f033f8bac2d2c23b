import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Arch } from './arch.js'
import type { Runtime } from './runtime.js'

/**
 * The self-contained program, laid out as the Debian package installs it in /usr/lib/fst (and the tarball
 * at its top): `app/` the @fst/cli package's bins and bundles with the node_modules the bundles leave outside
 * (lmdb with its prebuilt addon, the GeoIP data that the fst-geoip package ships), `node` its own Node
 * runtime, `bin/fst` and `bin/fst-action` launchers. One payload per architecture: the runtime and the
 * prebuilt addons are that architecture's.
 */

/** The GeoIP and ASN databases @fst/metrics reads: data, not code, so a package of their own (fst-geoip). */
export const GEOIP_PACKAGES = ['@ip-location-db/asn', '@ip-location-db/geo-whois-asn-country-mmdb']
/** What the bundles load from node_modules at run time (bundle.mjs leaves them outside), with their dependencies. */
export const OUTSIDE_THE_BUNDLE = ['lmdb', ...GEOIP_PACKAGES]
/** Of app/dist, what the bins load: the bundles and the dashboard's files. The rest is tsc's output. */
const DIST_RUN = new Set(['bundle', 'hook', 'public'])

/**
 * A launcher script: `lib` is the payload directory, a path or a shell expression. Arguments pass through as
 * "$@", never re-read by the shell.
 */
export function launcher (lib: string, bin: 'fst.js' | 'fst-action.cjs', runtime: ShebangRuntime = NO_RUNTIME_SETTINGS): string {
  const flags = runtime.flags.map(f => `${f} `).join('')
  const env = Object.entries(runtime.env).map(([name, value]) => `export ${name}=${value}\n`).join('')
  return `#!/bin/sh\n# FST on the Node runtime shipped with it (environment and flags from the shebang of app/bin/${bin})\nlib=${lib}\n${env}exec "$lib/node" ${flags}"$lib/app/bin/${bin}" "$@"\n`
}

/** The payload's own launchers find it through their real path, so they work wherever it is unpacked. */
const RELATIVE_LIB = '$(dirname -- "$(readlink -f -- "$0")")/..'

/** The environment and the Node flags of a bin's `#!/usr/bin/env -S NAME=value node --flag` line. */
export interface ShebangRuntime { env: Record<string, string>, flags: string[] }

const NO_RUNTIME_SETTINGS: ShebangRuntime = { env: {}, flags: [] }

/** What a bin's shebang sets, so the launchers start the shipped node the same way: one place to set it. */
export function shebangRuntime (file: string): ShebangRuntime {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0]!
  // names and values are plain words, so the launcher can write them unquoted
  const m = /^#!\/usr\/bin\/env(?: -S)?((?: [A-Z_][A-Z0-9_]*=[\w.-]+)*) node((?: --?[\w-]+(?:=[\w.-]+)?)*)$/.exec(first)
  if (m === null) throw new Error(`${file}: unexpected shebang ${first}`)
  const words = (text: string) => text.trim().split(' ').filter(Boolean)
  const env = Object.fromEntries(words(m[1]!).map(w => w.split('=')))
  return { env, flags: words(m[2]!) }
}

/**
 * Builds the payload for `arch` in `dir` (which must not exist) from a repository whose packages are built.
 * The addons are the lockfile's optional packages for that CPU (@lmdb/lmdb-linux-arm64, …): pnpm installs
 * those instead of the build machine's, and no install script runs (they would load or compile an addon for
 * the build machine; every addon shipped is prebuilt).
 */
export function buildPayload (root: string, dir: string, runtime: Runtime, arch: Arch): void {
  // the lockfile's versions, production only, a flat node_modules of copies (never links into the pnpm
  // store: files get their modes set below), patches applied as in development
  execFileSync('pnpm', ['--filter', '@fst/cli', 'deploy', '--prod', '--legacy', '--ignore-scripts',
    `--cpu=${arch.node}`, '--os=linux', '--libc=glibc', '--config.node-linker=hoisted',
    '--config.package-import-method=copy', join(dir, 'app')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  keepOnlyWhatRuns(join(dir, 'app'))
  tidy(join(dir, 'app'), runtime.abi, arch)
  copyFileSync(runtime.path, join(dir, 'node'))
  chmodSync(join(dir, 'node'), 0o755)
  strip(join(dir, 'node'), arch)
  mkdirSync(join(dir, 'bin'))
  for (const [name, bin] of [['fst', 'fst.js'], ['fst-action', 'fst-action.cjs']] as const) {
    const runtime = bin === 'fst.js' ? shebangRuntime(join(dir, 'app/bin', bin)) : undefined
    writeFileSync(join(dir, 'bin', name), launcher(RELATIVE_LIB, bin, runtime), { mode: 0o755 })
  }
}

/**
 * The deploy is @fst/cli's whole production tree, but the bundles carry all of it except OUTSIDE_THE_BUNDLE:
 * node_modules keeps those packages and what they depend on (optional dependencies too: lmdb's prebuilt
 * addons are those), app/dist keeps DIST_RUN. 146 MB of node_modules before, the GeoIP data and ~2 MB after.
 */
function keepOnlyWhatRuns (app: string): void {
  const modules = join(app, 'node_modules')
  const kept = new Set<string>()
  // Node's lookup: the package's own node_modules, then each folder above it up to app/
  const locate = (from: string, name: string): string | null => {
    for (let d = from; d.startsWith(app); d = dirname(d)) {
      const candidate = join(d, 'node_modules', name)
      if (existsSync(join(candidate, 'package.json'))) return candidate
    }
    return null
  }
  const keep = (dir: string) => {
    if (kept.has(dir)) return
    kept.add(dir)
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      const found = locate(dir, name)
      // an optional dependency for another CPU or libc is not installed, and not needed
      if (found !== null) keep(found)
      else if (pkg.dependencies?.[name] !== undefined) throw new Error(`${dir}: dependency ${name} not found`)
    }
  }
  for (const name of OUTSIDE_THE_BUNDLE) {
    const found = locate(app, name)
    if (found === null) throw new Error(`${name} is not in the deployed node_modules`)
    keep(found)
  }
  const prune = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      if (name.startsWith('.')) continue
      if (name.startsWith('@')) { prune(p); continue }
      if (!kept.has(p)) { rmSync(p, { recursive: true, force: true }); continue }
      if (existsSync(join(p, 'node_modules'))) prune(join(p, 'node_modules'))
    }
  }
  prune(modules)
  for (const scope of readdirSync(modules).filter(n => n.startsWith('@'))) {
    if (readdirSync(join(modules, scope)).length === 0) rmSync(join(modules, scope), { recursive: true })
  }
  for (const name of readdirSync(join(app, 'dist'))) {
    if (!DIST_RUN.has(name)) rmSync(join(app, 'dist', name), { recursive: true, force: true })
  }
}

/**
 * Files and folders of node_modules nothing loads at run time: every dot-name (npm/VCS/editor/CI settings,
 * coverage output, pnpm's own .pnpm and .modules.yaml), and a package's own tests at its top.
 */
const CLUTTER = /^\./
const TEST_DIRS = new Set(['test', 'tests', 'fixture', 'fixtures'])
/**
 * Files of node_modules that never run: TypeScript (declarations, and sources some packages ship beside
 * dist/: Node strips types nowhere under node_modules) and source maps (read only with --enable-source-maps,
 * which FST does not set). Three fifths of the modules' files: lintian and rpmlint look at every file.
 */
const NOT_RUN = /\.([cm]?ts|map)$/
/** Packages only a compile of an addon reads (C++ headers): every addon shipped is prebuilt. */
const BUILD_ONLY = ['node-addon-api']
/**
 * What node-gyp would compile in an addon's package (its root has binding.gyp): C/C++ sources and vendored
 * libraries, lz4's Visual Studio examples among them. The binary comes prebuilt, so none of it runs.
 */
const ADDON_SOURCES = new Set(['binding.gyp', 'src', 'deps', 'dependencies'])

/**
 * Prepares app/ for installation: the launchers start the bins, so no file needs to be executable (a shared
 * library must not be); prebuilt addons are kept only where they can load (glibc, the shipped Node's ABI
 * or N-API) and stripped; metadata, the packages' own tests and what never runs (TypeScript, source maps,
 * addon sources) go.
 */
function tidy (app: string, abi: string, arch: Arch): void {
  for (const name of BUILD_ONLY) rmSync(join(app, 'node_modules', name), { recursive: true, force: true })
  const walk = (d: string, modules: boolean) => {
    const names = readdirSync(d)
    const packageRoot = names.includes('package.json')
    const addonRoot = packageRoot && names.includes('binding.gyp')
    for (const name of names) {
      const p = join(d, name)
      const st = lstatSync(p)
      if (addonRoot && ADDON_SOURCES.has(name)) {
        rmSync(p, { recursive: true })
      } else if (st.isDirectory() && (CLUTTER.test(name) || (packageRoot && TEST_DIRS.has(name)))) {
        rmSync(p, { recursive: true })
      } else if (st.isDirectory()) {
        chmodSync(p, 0o755)
        walk(p, modules || name === 'node_modules')
      } else if (CLUTTER.test(name) || st.isSymbolicLink() || (modules ? NOT_RUN.test(name) : name.endsWith('.map'))) {
        rmSync(p)
      } else if (name.endsWith('.node') && !loadable(name, abi)) {
        rmSync(p)
      } else {
        chmodSync(p, 0o644)
        if (name.endsWith('.node')) strip(p, arch)
      }
    }
  }
  walk(app, false)
}

/** Whether a prebuilt addon (`node.napi.glibc.node`, `node.abi137.glibc.node`, …) can load here. */
function loadable (name: string, abi: string): boolean {
  if (name.includes('musl')) return false
  const built = /\.abi(\d+)\./.exec(name)?.[1]
  return built === undefined || built === abi
}

/**
 * Debug symbols out (nodejs.org's binary carries ~20 MB of them) with the architecture's strip, when binutils
 * (for arm64: binutils-aarch64-linux-gnu) is installed; without it the files stay as they are, and lintian says so.
 */
function strip (file: string, arch: Arch): void {
  try { execFileSync(arch.strip, ['--strip-unneeded', file], { stdio: 'ignore' }) } catch {}
}
