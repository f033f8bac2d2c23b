/**
 * The floor under an idle node's memory (issue 25): what RSS the parts of FST's stack cost before any FST code
 * runs. `tsx test/bench/idle-floor.ts [rounds]` (default 2) bundles floor-step.ts as the node is bundled and runs
 * each level (bare Node, an LMDB store, a libp2p host, + gossipsub, + both) as a pair of processes connected on
 * loopback, with the runtime settings of the `fst` bin's shebang; then an FST node of a 2-node mesh. Each is read
 * at rest (REST_MS, as memory-profile.ts), levels interleaved round by round. Markdown, for docs/benchmarks.md.
 * RSS does not depend on CPU load, so it can run beside other work.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { shebangRuntime } from '../../packaging/payload.js'
import { Mesh } from '../utils/mesh.js'
import { LEVELS } from './floor-levels.js'
import { rssTable } from './smaps.js'
import { childPids, progress, round, rssMb } from './stats.js'

const rounds = Number(process.argv[2] ?? 2)
const REST_MS = Number(process.env.REST_MS ?? 40_000)
const START_TIMEOUT_MS = 60_000
const root = join(import.meta.dirname, '../..')
// the esbuild the cli's bundles are built with (packages/cli/bundle.mjs): a second copy in test/ would pull
// vitest's vite onto another esbuild
const { build } = createRequire(join(root, 'packages/cli/package.json'))('esbuild') as { build: (options: Record<string, unknown>) => Promise<unknown> }
const runtime = shebangRuntime(join(root, 'packages/cli/bin/fst.js'))

/** The mappings a reading sums into columns; the rest goes to "other". */
const COLUMNS = [['node binary', 'node binary'], ['anonymous', 'anonymous'], ['glibc', 'glibc main arena'], ['shared libraries', 'shared libraries']] as const

interface Reading { rss: number, parts: Record<string, number> }

function read (pid: number): Reading {
  const parts: Record<string, number> = { other: 0 }
  for (const [name, mb] of rssTable(pid)) {
    const column = COLUMNS.find(([prefix]) => name.startsWith(prefix))?.[1] ?? 'other'
    parts[column] = round((parts[column] ?? 0) + mb)
  }
  return { rss: rssMb(pid)!, parts }
}

/**
 * Starts a step process; resolves with it and its listen address once it listens, `ready` once it printed
 * `ready` (connected: a listener only gets there once its peer dialled it).
 */
function startStep (bundle: string, level: string, peer?: string): Promise<{ child: ChildProcess, addr: string, ready: Promise<void> }> {
  const child = spawn(process.execPath, [...runtime.flags, bundle, level, ...(peer === undefined ? [] : [peer])], {
    env: { ...process.env, ...runtime.env }, stdio: ['ignore', 'pipe', 'inherit']
  })
  let listening!: (addr: string) => void
  const addr = new Promise<string>(resolve => { listening = resolve })
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${level}: not ready in ${START_TIMEOUT_MS} ms`)) }, START_TIMEOUT_MS)
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`${level}: exited ${code} before ready`)) })
    createInterface({ input: child.stdout! }).on('line', line => {
      if (line.startsWith('listening ')) listening(line.slice('listening '.length))
      if (line === 'ready') { clearTimeout(timer); child.removeAllListeners('exit'); resolve() }
    })
  })
  return Promise.race([addr.then(a => ({ child, addr: a, ready })), ready.then(() => ({ child, addr: 'none', ready }))])
}

function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve()
  return new Promise(resolve => { child.once('exit', () => resolve()); child.kill('SIGTERM') })
}

const rest = () => new Promise(resolve => setTimeout(resolve, REST_MS))

/** One level: the listener (read) and, for a network level, a peer dialling it. */
async function measureStep (bundle: string, level: string): Promise<Reading> {
  const children: ChildProcess[] = []
  try {
    const a = await startStep(bundle, level)
    children.push(a.child)
    if (a.addr !== 'none') {
      const b = await startStep(bundle, level, a.addr)
      children.push(b.child)
      await b.ready
    }
    await a.ready
    await rest()
    return read(a.child.pid!)
  } finally {
    await Promise.all(children.map(stop))
  }
}

/** An FST node of a connected 2-node mesh, as test/core/memory.test.ts starts it; its fork server beside it. */
async function measureNode (): Promise<Reading & { forkServer: number }> {
  const mesh = await Mesh.create({ nodes: 2, actions: ['ban', 'unban'], config: () => ({ logLevel: 'warn' }) })
  try {
    await rest()
    const pid = mesh.nodes[1]!.process!.pid!
    const forkServer = round(childPids(pid).reduce((sum, p) => sum + (rssMb(p) ?? 0), 0))
    return { ...read(pid), forkServer }
  } finally {
    await mesh.stop()
  }
}

// inside test/node_modules: lmdb resolves from there, and neither git nor the linter looks
const outdir = mkdtempSync(join(import.meta.dirname, '../node_modules/.fst-floor-'))
try {
  // bundled as the node is (packages/cli/bundle.mjs); lmdb, a native addon, stays outside and resolves from test/
  await build({
    entryPoints: [join(import.meta.dirname, 'floor-step.ts')],
    bundle: true, platform: 'node', target: 'node22', format: 'esm', splitting: true, minifyWhitespace: true, minifySyntax: true,
    outdir, outExtension: { '.js': '.mjs' }, external: ['lmdb'], logLevel: 'warning',
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" }
  })
  const bundle = join(outdir, 'floor-step.mjs')
  const rows = new Map<string, Reading[]>()
  const forkServers: number[] = []
  for (let r = 0; r < rounds; r++) {
    for (const level of LEVELS) {
      progress(`round ${r + 1}/${rounds}: ${level}`)
      rows.set(level, [...rows.get(level) ?? [], await measureStep(bundle, level)])
    }
    progress(`round ${r + 1}/${rounds}: fst node`)
    const node = await measureNode()
    forkServers.push(node.forkServer)
    rows.set('FST node (2-node mesh)', [...rows.get('FST node (2-node mesh)') ?? [], node])
  }
  const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / xs.length)
  const names = [...COLUMNS.map(c => c[1]), 'other']
  const out = [
    `Runtime: node ${process.versions.node}, ${Object.entries(runtime.env).map(([k, v]) => `${k}=${v}`).join(' ')} ${runtime.flags.join(' ')}; ${REST_MS / 1000} s at rest; ${rounds} round(s), levels interleaved.`, '',
    `| level (each a pair of processes on loopback) | VmRSS MB, each run | mean | ${names.join(' | ')} |`,
    `|---|---|---|${names.map(() => '---').join('|')}|`
  ]
  for (const [level, readings] of rows) {
    out.push(`| ${level} | ${readings.map(x => round(x.rss)).join(', ')} | ${mean(readings.map(x => x.rss))} | ${names.map(n => mean(readings.map(x => x.parts[n] ?? 0))).join(' | ')} |`)
  }
  out.push('', `FST node's fork server: ${forkServers.join(', ')} MB.`)
  process.stdout.write(`${out.join('\n')}\n`)
} finally {
  rmSync(outdir, { recursive: true, force: true })
}
