import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The self-contained program, laid out as the Debian package installs it in /usr/lib/fst (and the tarball
 * at its top): `app/` the @fst/cli package with its production node_modules (bundles, lmdb's prebuilt
 * binary, @fst/metrics), `node` its own Node runtime, `bin/fst` and `bin/fst-action` launchers.
 */

/** Node's version floor (package.json engines). */
const MIN_NODE: readonly [number, number] = [22, 12]

/**
 * The Node runtime to ship: $FST_NODE_BINARY, else the node running this build. It must be a self-contained
 * binary such as the nodejs.org builds or the npm `node` package: Debian's /usr/bin/node needs libnode.
 */
export function nodeRuntime (): { path: string, version: string, abi: string } {
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

/**
 * A launcher script: `lib` is the payload directory, a path or a shell expression. Arguments pass through as
 * "$@", never re-read by the shell.
 */
export function launcher (lib: string, bin: 'fst.js' | 'fst-action.cjs', nodeFlags: string[]): string {
  const flags = nodeFlags.map(f => `${f} `).join('')
  return `#!/bin/sh\n# FST on the Node runtime shipped with it (flags from the shebang of app/bin/${bin})\nlib=${lib}\nexec "$lib/node" ${flags}"$lib/app/bin/${bin}" "$@"\n`
}

/** The payload's own launchers find it through their real path, so they work wherever it is unpacked. */
const RELATIVE_LIB = '$(dirname -- "$(readlink -f -- "$0")")/..'

/** Node flags a bin's `#!/usr/bin/env -S node …` shebang asks for: one place to set them. */
export function shebangFlags (file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0]!
  const m = /^#!\/usr\/bin\/env(?: -S)? node((?: --?[\w-]+(?:=[\w.-]+)?)*)$/.exec(first)
  if (m === null) throw new Error(`${file}: unexpected shebang ${first}`)
  return m[1]!.trim().split(' ').filter(Boolean)
}

/** Builds the payload in `dir` (which must not exist) from a repository whose packages are built. */
export function buildPayload (root: string, dir: string, runtime: { path: string, abi: string }): void {
  // the lockfile's versions, production only, a flat node_modules of copies (never links into the pnpm
  // store: files get their modes set below), patches applied as in development
  execFileSync('pnpm', ['--filter', '@fst/cli', 'deploy', '--prod', '--legacy', '--config.node-linker=hoisted',
    '--config.package-import-method=copy', join(dir, 'app')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  tidy(join(dir, 'app'), runtime.abi)
  copyFileSync(runtime.path, join(dir, 'node'))
  chmodSync(join(dir, 'node'), 0o755)
  strip(join(dir, 'node'))
  mkdirSync(join(dir, 'bin'))
  for (const [name, bin] of [['fst', 'fst.js'], ['fst-action', 'fst-action.cjs']] as const) {
    const flags = bin === 'fst.js' ? shebangFlags(join(dir, 'app/bin', bin)) : []
    writeFileSync(join(dir, 'bin', name), launcher(RELATIVE_LIB, bin, flags), { mode: 0o755 })
  }
}

/** Files of node_modules nothing loads at run time: npm/VCS/editor metadata. */
const CLUTTER = /^\.(npmignore|gitignore|gitattributes|gitmodules|travis\.yml|eslintrc.*|prettierrc.*|editorconfig)$/
/** Folders nothing loads at run time: CI and tool settings anywhere, a package's own tests at its top. */
const CLUTTER_DIRS = new Set(['.github', '.husky', '.claude', '.vscode'])
const TEST_DIRS = new Set(['test', 'tests'])

/**
 * Prepares app/ for installation: the launchers start the bins, so no file needs to be executable (a shared
 * library must not be); prebuilt addons are kept only where they can load (glibc, the shipped Node's ABI
 * or N-API) and stripped; metadata and the packages' own tests go.
 */
function tidy (app: string, abi: string): void {
  rmSync(join(app, 'node_modules/.bin'), { recursive: true, force: true })
  const walk = (d: string) => {
    const names = readdirSync(d)
    const packageRoot = names.includes('package.json')
    for (const name of names) {
      const p = join(d, name)
      const st = lstatSync(p)
      if (st.isDirectory() && (CLUTTER_DIRS.has(name) || (packageRoot && TEST_DIRS.has(name)))) {
        rmSync(p, { recursive: true })
      } else if (st.isDirectory()) {
        chmodSync(p, 0o755)
        walk(p)
      } else if (CLUTTER.test(name) || st.isSymbolicLink()) {
        rmSync(p)
      } else if (name.endsWith('.node') && !loadable(name, abi)) {
        rmSync(p)
      } else {
        chmodSync(p, 0o644)
        if (name.endsWith('.node')) strip(p)
      }
    }
  }
  walk(app)
}

/** Whether a prebuilt addon (`node.napi.glibc.node`, `node.abi137.glibc.node`, …) can load here. */
function loadable (name: string, abi: string): boolean {
  if (name.includes('musl')) return false
  const built = /\.abi(\d+)\./.exec(name)?.[1]
  return built === undefined || built === abi
}

/** Debug symbols out (nodejs.org's binary carries ~20 MB of them), when binutils is installed. */
function strip (file: string): void {
  try { execFileSync('strip', ['--strip-unneeded', file], { stdio: 'ignore' }) } catch {}
}
