// `pnpm package`: dist/fst_<version>_amd64.deb and dist/fst-<version>-linux-x64.tar.gz, self-contained (their
// own Node runtime, production node_modules), from a built tree (`pnpm package` builds first).
// Options: --out DIR (default dist/), --only deb|tar, --compression xz|gzip|zstd|none (the .deb's; default xz).
// The Node runtime shipped is the one running this script, or $FST_NODE_BINARY.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { type BuildInfo, buildDeb } from './deb.js'
import { debLayout, tarLayout } from './layout.js'
import { buildPayload, launcher, nodeRuntime, shebangFlags } from './payload.js'
import { buildTarball } from './tarball.js'

const here = import.meta.dirname
const root = resolve(here, '..')

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'dist') },
    only: { type: 'string' },
    compression: { type: 'string', default: 'xz' }
  }
})
if (opts.only !== undefined && opts.only !== 'deb' && opts.only !== 'tar') throw new Error(`--only deb or --only tar, not ${opts.only}`)

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

const runtime = nodeRuntime()
const out = resolve(opts.out)
mkdirSync(out, { recursive: true })
const work = mkdtempSync(join(tmpdir(), 'fst-package-'))
try {
  // the payload is staged where the .deb installs it; the tarball takes a hard-linked copy
  const deb = join(work, 'deb')
  const payload = join(deb, 'usr/lib/fst')
  mkdirSync(join(deb, 'usr/lib'), { recursive: true })
  buildPayload(root, payload, runtime)
  const info = buildInfo(payload)
  const built: string[] = []

  if (opts.only !== 'deb') {
    const top = join(work, 'tar', `fst-${info.version}-linux-x64`)
    mkdirSync(join(work, 'tar'))
    execFileSync('cp', ['-a', '--link', payload, top])
    tarLayout(root, here, top)
    const file = join(out, `fst-${info.version}-linux-x64.tar.gz`)
    buildTarball(top, file)
    built.push(file)
  }
  if (opts.only !== 'tar') {
    mkdirSync(join(deb, 'usr/bin'))
    const flags = shebangFlags(join(payload, 'app/bin/fst.js'))
    writeFileSync(join(deb, 'usr/bin/fst'), launcher('/usr/lib/fst', 'fst.js', flags), { mode: 0o755 })
    writeFileSync(join(deb, 'usr/bin/fst-action'), launcher('/usr/lib/fst', 'fst-action.cjs', []), { mode: 0o755 })
    debLayout(root, here, deb)
    const file = join(out, `fst_${info.version}_amd64.deb`)
    buildDeb(here, deb, info, file, opts.compression)
    built.push(file)
  }
  console.log(`fst ${info.version}${info.commit === null ? '' : ` (git ${info.commit})`} with Node ${runtime.version}:\n${built.map(f => `  ${f}`).join('\n')}`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
