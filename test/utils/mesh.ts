import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { stringify } from 'yaml'
import { ask } from '@fst/cli'
import type { NodeStatus } from '@fst/protocol'
import pWaitFor from 'p-wait-for'

export const ROOT = resolve(import.meta.dirname, '../..')
export const FST = join(ROOT, 'packages/cli/bin/fst.js')
export const FST_ACTION = join(ROOT, 'packages/cli/bin/fst-action.cjs')

/** A script that records each run as one line `<action> <argv…>` in `<node>/runs.log`. */
const RECORD_SCRIPT = `#!/bin/sh
printf '%s %s\\n' "$FST_ACTION" "$*" >> ../../runs.log
`
/** A batch script: one line per stdin line, prefixed by the action. */
const RECORD_BATCH_SCRIPT = `#!/bin/sh
while read -r line; do printf '%s %s\\n' "$FST_ACTION" "$line" >> ../../runs.log; done
`

export interface TestNode {
  index: number
  dir: string
  configFile: string
  port: number
  process: ChildProcess | null
  /** stdout+stderr of the node, for diagnostics. */
  log: () => string
}

export interface MeshOptions {
  nodes: number
  /** Actions each node gets a recording script for; per node index when a function. */
  actions?: string[] | ((index: number) => string[])
  /** Use a batch recording script instead of a per-event one. */
  batchScripts?: boolean
  /** Extra config keys per node. */
  config?: (index: number) => Record<string, unknown>
  /** Lines of sync-peers.txt; defaults to every node as 127.0.0.1:port. */
  peersFile?: (nodes: TestNode[]) => string
  /** Start the nodes (default true). */
  start?: boolean
  /** Run `fst start` inside this network namespace (`ip netns exec`), per node if a function; CLI calls stay outside. */
  netns?: string | ((index: number) => string)
  /** Address each node listens on and is listed under in sync-peers.txt (default 127.0.0.1). */
  host?: (index: number) => string
  /**
   * The `fst` and `fst-action` entry points of a node (default this checkout's FST and FST_ACTION): another
   * release's build (test/utils/releases.ts) runs that node, and `fst()`/`hook()` call that release's bins.
   */
  bins?: (index: number) => NodeBins | undefined
  /**
   * Milliseconds a node may take to answer on its control socket after its start, and the mesh to form
   * (default 30 s, more for many nodes): nodes under an emulator (test/utils/qemu.ts) start several times slower.
   */
  startTimeout?: number
}

/** The two entry points of one FST build. */
export interface NodeBins { fst: string, fstAction: string }

/** One ledger entry as `fst list --json` prints it. */
export interface ListedEntry { action: string, name: string, protocol: string, port: string, ip: string, time: number, duration: number, origin: string }

/** Listen ports are taken below Linux's ephemeral range (32768-60999), where no outgoing connection lands. */
const PORT_RANGE = { low: 20_000, high: 32_767 }
const handedOut = new Set<number>()

/**
 * Returns a free TCP port on 127.0.0.1 that this process has not handed out before. Not from the kernel's
 * ephemeral range: in a 30-node mesh the outgoing connections of the nodes started first took ports that
 * were free when the later nodes' ports were chosen (EADDRINUSE at start).
 */
export async function freePort (): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * (PORT_RANGE.high - PORT_RANGE.low + 1))
    if (handedOut.has(port) || !(await canListen(port))) continue
    handedOut.add(port)
    return port
  }
  throw new Error(`no free port in ${PORT_RANGE.low}-${PORT_RANGE.high} after 100 attempts`)
}

function canListen (port: number): Promise<boolean> {
  return new Promise(resolveFree => {
    const server = createServer()
    server.once('error', () => resolveFree(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)))
  })
}

/** What `fst status --json` answers (the control protocol's type). */
export type { NodeStatus }

export interface RunResult { code: number, stdout: string, stderr: string }

/** Runs a command to completion; a failure is a non-zero code, never a throw. */
export function run (command: string, args: string[], options: { input?: string, timeout?: number, cwd?: string, env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise(resolveRun => {
    const child = execFile(command, args, { timeout: options.timeout ?? 30_000, maxBuffer: 64 * 1024 * 1024, cwd: options.cwd, env: options.env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolveRun({ code, stdout, stderr })
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}

/**
 * The environment of a test node: FST_NODE_ARGS adds Node flags to every node through NODE_OPTIONS, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile.
 */
function nodeEnv (): NodeJS.ProcessEnv {
  const extra = process.env.FST_NODE_ARGS
  return extra === undefined ? process.env : { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${extra}`.trim() }
}

/**
 * Runs a bin (fst or fst-action) to completion: a JavaScript entry point on this Node, any other file (a
 * package's launcher, test/utils/qemu.ts's) as the executable it is.
 */
export function runBin (bin: string, args: string[], input?: string): Promise<RunResult> {
  return /\.[cm]?js$/.test(bin) ? run(process.execPath, [bin, ...args], { input }) : run(bin, args, { input, timeout: 60_000 })
}

/** Writes a test node's config.yml: listening on `listen`, sync-peers.txt one folder up, quick redials. */
export function writeNodeConfig (file: string, listen: string, extra: Record<string, unknown> = {}): void {
  writeFileSync(file, stringify({
    listen: [listen],
    peersFile: '../sync-peers.txt',
    actionsDir: 'actions',
    stateDir: 'state',
    controlSocket: 'state/fst.sock',
    redial: { minMs: 100, maxMs: 1000 },
    logLevel: 'info',
    ...extra
  }))
}

/** Writes an executable action script `<nodeDir>/actions/<action>.d/<name>` (a body, or a copy of a file). */
export function installScript (nodeDir: string, action: string, name: string, source: { body: string } | { file: string }): string {
  const dir = join(nodeDir, 'actions', `${action}.d`)
  mkdirSync(dir, { recursive: true })
  const target = join(dir, name)
  if ('body' in source) writeFileSync(target, source.body)
  else copyFileSync(source.file, target)
  chmodSync(target, 0o755)
  return target
}

/** Waits until a just-spawned `fst start` answers on its control socket; fails at once if it exits first. */
export async function waitStarted (child: ChildProcess, label: string, output: () => string, status: () => Promise<unknown>, timeout: number): Promise<void> {
  let exited: string | null = null
  child.once('exit', (code, signal) => { exited = signal === null ? `exit code ${code}` : `signal ${signal}` })
  await pWaitFor(async () => {
    if (exited !== null) throw new Error(`${label} exited during start (${exited}):\n${output()}`)
    return status().then(() => true, () => false)
  }, { interval: 50, timeout })
}

/** Waits until every given node has all the others as gossipsub topic peers. */
export async function waitMeshed (statuses: Array<() => Promise<NodeStatus>>, interval: number, timeout: number): Promise<void> {
  await pWaitFor(async () => {
    const all = await Promise.all(statuses.map(status => status()))
    return all.every(s => s.meshPeers.length >= statuses.length - 1)
  }, { interval, timeout })
}

/**
 * A mesh of `fst start` processes on 127.0.0.1, each in its own temp dir with config, state, actions
 * and the shared sync-peers.txt. `stop()` kills them and removes the dirs.
 */
export class Mesh {
  readonly nodes: TestNode[] = []
  readonly root: string

  private constructor (readonly options: MeshOptions) {
    this.root = mkdtempSync(join(tmpdir(), 'fst-mesh-'))
  }

  static async create (options: MeshOptions): Promise<Mesh> {
    const mesh = new Mesh(options)
    try {
      await mesh.setup()
      if (options.start !== false) await mesh.startAll()
    } catch (err) {
      await mesh.stop()
      throw err
    }
    return mesh
  }

  private async setup (): Promise<void> {
    for (let i = 0; i < this.options.nodes; i++) {
      const dir = join(this.root, `node${i}`)
      mkdirSync(join(dir, 'actions'), { recursive: true })
      this.nodes.push({ index: i, dir, configFile: join(dir, 'config.yml'), port: await freePort(), process: null, log: () => '' })
    }
    const host = (i: number) => this.options.host?.(i) ?? '127.0.0.1'
    const peers = this.options.peersFile?.(this.nodes) ?? this.nodes.map(n => `${host(n.index)}:${n.port}`).join('\n')
    writeFileSync(join(this.root, 'sync-peers.txt'), `${peers}\n`)
    for (const node of this.nodes) {
      const actions = typeof this.options.actions === 'function' ? this.options.actions(node.index) : (this.options.actions ?? ['ban', 'unban'])
      for (const action of actions) this.addScript(node.index, action)
      writeNodeConfig(node.configFile, `${host(node.index)}:${node.port}`, this.options.config?.(node.index))
    }
  }

  /** Adds the recording script for an action on one node. */
  addScript (index: number, action: string, name = '50-record', body?: string): void {
    const batch = this.options.batchScripts === true
    installScript(this.nodes[index]!.dir, action, batch ? `${name}.batch` : name, { body: body ?? (batch ? RECORD_BATCH_SCRIPT : RECORD_SCRIPT) })
  }

  async startAll (): Promise<void> {
    await Promise.all(this.nodes.map(n => this.startNode(n.index)))
    await this.waitConnected()
  }

  /** Starts one node and waits until its control socket answers. */
  async startNode (index: number): Promise<void> {
    const node = this.nodes[index]!
    let output = ''
    // the bin itself, as systemd and the container run it, so the Node flags of its shebang apply
    const argv = [this.bins(index).fst, 'start', '--config', node.configFile]
    // `ip netns exec` execs the command in place, so signals to the child reach the node itself
    const netns = typeof this.options.netns === 'function' ? this.options.netns(index) : this.options.netns
    const [command, ...args] = netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv]
    const child = spawn(command!, args, { cwd: node.dir, stdio: ['ignore', 'pipe', 'pipe'], env: nodeEnv() })
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    node.process = child
    node.log = () => output
    // nodes started together share the cores: 16 at once beside two busy loops need longer than one alone
    await waitStarted(child, `node ${index}`, node.log, () => this.status(index), this.options.startTimeout ?? Math.max(30_000, 3_000 * this.nodes.length))
  }

  /** Stops one node with SIGTERM (or SIGKILL) and waits for it to exit. */
  async stopNode (index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.nodes[index]!.process
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise(resolveExit => child.once('exit', resolveExit))
    child.kill(signal)
    await exited
    this.nodes[index]!.process = null
  }

  /** The entry points node `index` runs. */
  bins (index: number): NodeBins {
    return this.options.bins?.(index) ?? { fst: FST, fstAction: FST_ACTION }
  }

  /** The control socket of a node. */
  socket (index: number): string {
    const configured = this.options.config?.(index)?.controlSocket
    return typeof configured === 'string' ? resolve(this.nodes[index]!.dir, configured) : join(this.nodes[index]!.dir, 'state', 'fst.sock')
  }

  /**
   * Status of one node, asked over its control socket in-process (what `fst status --json` prints): polling
   * through a CLI process per call would load the machine more than the nodes under test.
   */
  async status (index: number): Promise<NodeStatus> {
    const answer = await ask(this.socket(index), { op: 'status' })
    if (!answer.ok) throw new Error(`status ${index} failed: ${answer.error}`)
    return answer as unknown as NodeStatus
  }

  /** Waits until every running node has every other running node as a gossipsub mesh subscriber. */
  async waitConnected (timeout = this.options.startTimeout ?? Math.max(20_000, 2_000 * this.nodes.length)): Promise<void> {
    const running = this.nodes.filter(n => n.process !== null)
    await waitMeshed(running.map(n => () => this.status(n.index)), 50, timeout)
  }

  fst (index: number, args: string[], input?: string): Promise<RunResult> {
    return runBin(this.bins(index).fst, [...args, '--config', this.nodes[index]!.configFile], input)
  }

  hook (index: number, args: string[]): Promise<RunResult> {
    return runBin(this.bins(index).fstAction, ['--config', this.nodes[index]!.configFile, ...args])
  }

  /** Ledger entries of one node (`fst list --json`, with `--all` tombstones too), sorted for comparison. */
  async list (index: number, all = false): Promise<ListedEntry[]> {
    const out = await this.fst(index, ['list', '--json', ...(all ? ['--all'] : [])])
    if (out.code !== 0) throw new Error(`list ${index} failed: ${out.stderr}`)
    const entries = JSON.parse(out.stdout) as ListedEntry[]
    return entries.sort((a, b) => `${a.ip} ${a.name} ${a.action}`.localeCompare(`${b.ip} ${b.name} ${b.action}`))
  }

  /** Lines the recording scripts wrote on one node. */
  runs (index: number): string[] {
    const file = join(this.nodes[index]!.dir, 'runs.log')
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
  }

  async waitForRuns (index: number, count: number, timeout = 10_000): Promise<string[]> {
    await pWaitFor(() => this.runs(index).length >= count, { interval: 20, timeout }).catch(err => {
      throw new Error(`node ${index}: expected ${count} runs, saw ${this.runs(index).length}: ${(err as Error).message}\n${this.nodes[index]!.log().slice(-3000)}`)
    })
    return this.runs(index)
  }

  /** Waits until a node's ledger holds at least `count` entries; false on timeout. */
  async waitForLedger (index: number, count: number, timeout = 20_000): Promise<boolean> {
    return pWaitFor(async () => (await this.status(index)).ledger.entries >= count, { interval: 50, timeout }).then(() => true, () => false)
  }

  /** Waits until every running node's queue is empty and ledgers stop changing. */
  async settle (): Promise<void> {
    await pWaitFor(async () => {
      const s = await Promise.all(this.nodes.filter(n => n.process !== null).map(n => this.status(n.index)))
      return s.every(x => x.queue === 0)
    }, { interval: 50, timeout: 20_000 })
  }

  async stop (): Promise<void> {
    // FST_NODE_ARGS may ask for a CPU profile, which is written on a clean exit only
    await Promise.all(this.nodes.map(n => this.stopNode(n.index, process.env.FST_NODE_ARGS?.includes('--cpu-prof') === true ? 'SIGTERM' : 'SIGKILL')))
    rmSync(this.root, { recursive: true, force: true })
  }
}
