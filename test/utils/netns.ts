import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import pWaitFor from 'p-wait-for'
import { ask } from '@fst/cli'
import { atLastResort } from './last-resort.js'
import { switchPlan } from './switched-hosts.js'
import { FST, FST_ACTION, installScript as installScriptIn, type NodeStatus, run, type RunResult, waitMeshed, waitStarted, writeNodeConfig } from './mesh.js'

export { run }

/**
 * Test hosts as network namespaces on one bridge: a switch namespace holds `br0`, every host namespace
 * has `eth0` = 10.77.<run>.<i>/24 on a veth whose peer `vh<i>` is a port of `br0`. Nothing is added to
 * the root namespace. A host may run an FST node (config, state and sync-peers.txt naming the others by
 * address). Every process started here runs in its own process group and is killed on teardown; the
 * namespaces are deleted in afterAll and, as a last resort, when the test process exits.
 */

export const FST_PORT = 4242

export interface NetnsHost {
  /** 1-based, as in the address 10.77.<run>.<index>. */
  index: number
  ns: string
  addr: string
  dir: string
  configFile: string
  /** The node's control socket (config `controlSocket`, relative to dir). */
  socket: string
  /** Whether an FST node is configured on this host. */
  fst: boolean
  process: ChildProcess | null
  log: () => string
}

export interface NetnsOptions {
  hosts: number
  /** Hosts (1-based) that run an FST node; default all. Others are plain hosts (e.g. an attacker). */
  fstHosts?: number[]
  /** Extra config keys per host (dir: the host's folder, where its config.yml lives). */
  config?: (index: number, dir: string) => Record<string, unknown>
  /** Called after a host's folders exist and before its node starts (install scripts, fail2ban, …). */
  prepare?: (host: NetnsHost, mesh: NetnsMesh) => void | Promise<void>
  /** Start the nodes (default true). */
  start?: boolean
}

/** Run numbers taken in this process: namespace names must not repeat while a mesh lives. */
const runsInUse = new Set<number>()

/** Fails loudly: these tests need root for namespaces, nft and fail2ban, and CI runs them as root. */
export function requireRoot (): void {
  if (process.getuid?.() !== 0) throw new Error('namespace tests must run as root (ip netns, nft, fail2ban); CI runs them as root')
}

async function ip (args: string[]): Promise<void> {
  const out = await run('ip', args)
  if (out.code !== 0) throw new Error(`ip ${args.join(' ')}: ${out.stderr.trim()}`)
}

export class NetnsMesh {
  readonly hosts: NetnsHost[] = []
  readonly root: string
  readonly run: number
  readonly prefix: string
  readonly switchNs: string
  private readonly spawned = new Set<ChildProcess>()
  private readonly namespaces: string[] = []
  /** Takes the last-resort teardown (test/utils/last-resort.ts) off once a destroy ran. */
  private paid: () => void = () => {}

  private constructor (readonly options: NetnsOptions) {
    let run: number
    do run = 1 + Math.floor(Math.random() * 254)
    while (runsInUse.has(run))
    runsInUse.add(run)
    this.run = run
    this.prefix = `fst${process.pid}r${this.run}`
    this.switchNs = `${this.prefix}-sw`
    this.root = mkdtempSync(join(tmpdir(), 'fst-netns-'))
  }

  static async create (options: NetnsOptions): Promise<NetnsMesh> {
    requireRoot()
    const mesh = new NetnsMesh(options)
    mesh.paid = atLastResort(() => mesh.destroySync())
    try {
      await mesh.setupNetwork()
      await mesh.setupHosts()
      if (options.start !== false) await mesh.startAll()
    } catch (err) {
      await mesh.destroy()
      throw err
    }
    return mesh
  }

  host (index: number): NetnsHost {
    const host = this.hosts[index - 1]
    if (host === undefined) throw new Error(`no host ${index}`)
    return host
  }

  /** Address of host i on the bridge. */
  addr (index: number): string {
    return `10.77.${this.run}.${index}`
  }

  private async setupNetwork (): Promise<void> {
    const indices = Array.from({ length: this.options.hosts }, (_, k) => k + 1)
    for (const step of switchPlan(this.switchNs, indices.map(i => ({ ns: `${this.prefix}-h${i}`, addr: this.addr(i), port: `vh${i}` })))) {
      await ip(['netns', 'add', step.ns])
      // only what this mesh created is deleted on teardown
      this.namespaces.push(step.ns)
      for (const args of step.setup) await ip(args)
    }
    for (const i of indices) {
      const ns = `${this.prefix}-h${i}`
      const dir = join(this.root, `h${i}`)
      mkdirSync(join(dir, 'actions'), { recursive: true })
      const fst = this.options.fstHosts?.includes(i) ?? true
      const socket = resolve(dir, String(this.options.config?.(i, dir).controlSocket ?? 'state/fst.sock'))
      this.hosts.push({ index: i, ns, addr: this.addr(i), dir, configFile: join(dir, 'config.yml'), socket, fst, process: null, log: () => '' })
    }
  }

  private async setupHosts (): Promise<void> {
    const peers = this.hosts.filter(h => h.fst).map(h => `${h.addr}:${FST_PORT}`)
    writeFileSync(join(this.root, 'sync-peers.txt'), `# written by test/utils/netns.ts\n${peers.join('\n')}\n`)
    for (const host of this.hosts) {
      if (host.fst) writeNodeConfig(host.configFile, `${host.addr}:${FST_PORT}`, this.options.config?.(host.index, host.dir))
      await this.options.prepare?.(host, this)
    }
  }

  /** Writes an action script on a host (body, or a copy of a shipped file). */
  installScript (index: number, action: string, name: string, source: { body: string } | { file: string }): string {
    return installScriptIn(this.host(index).dir, action, name, source)
  }

  /** Starts a long-running process inside a host, in its own process group; killed on teardown. */
  spawnIn (index: number, command: string, args: string[], options: SpawnOptions = {}): ChildProcess & { output: () => string } {
    const child = spawn('ip', ['netns', 'exec', this.host(index).ns, command, ...args], {
      cwd: this.host(index).dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
      detached: true
    }) as ChildProcess & { output: () => string }
    let output = ''
    child.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-200_000) })
    child.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-200_000) })
    child.output = () => output
    this.spawned.add(child)
    child.once('exit', () => this.spawned.delete(child))
    return child
  }

  /** Runs a command to completion inside a host. */
  exec (index: number, command: string, args: string[], options: { input?: string, timeout?: number, env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.host(index).ns, command, ...args], { cwd: this.host(index).dir, ...options })
  }

  /** Whether a TCP connection from one host to an address:port opens within the timeout. */
  async tcpConnects (from: number, addr: string, port: number, timeoutMs = 1500): Promise<boolean> {
    const code = `const s=require('net').connect(${port},${JSON.stringify(addr)});s.setTimeout(${timeoutMs},()=>process.exit(2));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1))`
    return (await this.exec(from, process.execPath, ['-e', code])).code === 0
  }

  async startAll (): Promise<void> {
    await Promise.all(this.hosts.filter(h => h.fst).map(h => this.startNode(h.index)))
    await this.waitConnected()
  }

  async startNode (index: number): Promise<void> {
    const host = this.host(index)
    const child = this.spawnIn(index, FST, ['start', '--config', host.configFile])
    host.process = child
    host.log = child.output
    await waitStarted(child, `node on host ${index}`, child.output, () => this.status(index), 20_000)
  }

  async stopNode (index: number): Promise<void> {
    const child = this.host(index).process
    if (child === null) return
    await this.killGroup(child, 'SIGTERM')
    this.host(index).process = null
  }

  fst (index: number, args: string[], input?: string): Promise<RunResult> {
    return this.exec(index, process.execPath, [FST, ...args, '--config', this.host(index).configFile], { input })
  }

  hook (index: number, args: string[]): Promise<RunResult> {
    return this.exec(index, process.execPath, [FST_ACTION, '--config', this.host(index).configFile, ...args])
  }

  /** Status of a node, asked over its control socket in-process (what `fst status --json` prints). */
  async status (index: number): Promise<NodeStatus & { messages: { published: number, accepted: number, suppressed: number } }> {
    const answer = await ask(this.host(index).socket, { op: 'status' })
    if (!answer.ok) throw new Error(`status of host ${index} failed: ${answer.error}`)
    return answer as unknown as NodeStatus & { messages: { published: number, accepted: number, suppressed: number } }
  }

  /** Ledger entries of a node (with `all`, tombstones too), asked over its control socket (what `fst list` reads). */
  async list (index: number, all = false): Promise<Array<{ action: string, name: string, ip: string, time: number, duration: number, origin: string }>> {
    const answer = await ask(this.host(index).socket, { op: 'list', all })
    if (!answer.ok) throw new Error(`list of host ${index} failed: ${answer.error}`)
    return answer.entries as Array<{ action: string, name: string, ip: string, time: number, duration: number, origin: string }>
  }

  /** Waits until every running node has every other running node as a gossipsub topic peer. */
  async waitConnected (timeout = 20_000): Promise<void> {
    const running = this.hosts.filter(h => h.process !== null)
    await waitMeshed(running.map(h => () => this.status(h.index)), 100, timeout)
  }

  /** Waits until no node has scripts queued. */
  async settle (): Promise<void> {
    await pWaitFor(async () => {
      const s = await Promise.all(this.hosts.filter(h => h.process !== null).map(h => this.status(h.index)))
      return s.every(x => x.queue === 0)
    }, { interval: 50, timeout: 30_000 })
  }

  /** Cuts a host off the bridge. */
  async isolate (index: number): Promise<void> {
    await ip(['-n', this.switchNs, 'link', 'set', `vh${index}`, 'down'])
  }

  /** Reconnects a host and forgets stale neighbours so traffic resumes at once. */
  async heal (index: number): Promise<void> {
    await ip(['-n', this.switchNs, 'link', 'set', `vh${index}`, 'up'])
    for (const host of this.hosts) await run('ip', ['-n', host.ns, 'neigh', 'flush', 'dev', 'eth0'])
  }

  private async killGroup (child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    const exited = new Promise(resolveExit => child.once('exit', resolveExit))
    try { process.kill(-child.pid, signal) } catch {}
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch {} }, 5000)
    await exited
    clearTimeout(timer)
  }

  /** Kills every process started here, deletes the namespaces and the temp folder. */
  async destroy (): Promise<void> {
    await Promise.all([...this.spawned].map(c => this.killGroup(c, 'SIGKILL')))
    for (const ns of this.namespaces.splice(0).reverse()) await run('ip', ['netns', 'del', ns])
    rmSync(this.root, { recursive: true, force: true })
    this.paid()
    runsInUse.delete(this.run)
  }

  /** Synchronous variant for process exit handlers. */
  destroySync (): void {
    for (const child of this.spawned) {
      try { if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL') } catch {}
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
    }
    rmSync(this.root, { recursive: true, force: true })
    this.paid()
  }
}

/**
 * The firewall integrations' layout: hosts 1-3 run FST with one shipped script as both their ban.d and unban.d
 * action (`name`), host 4 is an attacker without FST.
 */
export function fstHostsAndAttacker (name: string, file: string): Promise<NetnsMesh> {
  return NetnsMesh.create({
    hosts: 4,
    fstHosts: [1, 2, 3],
    prepare: (host, mesh) => {
      if (!host.fst) return
      for (const action of ['ban', 'unban']) mesh.installScript(host.index, action, name, { file })
    }
  })
}

/** Namespaces this process created that still exist (for a final check in tests). */
export async function leftoverNamespaces (): Promise<string[]> {
  const out = await run('ip', ['netns', 'list'])
  return out.stdout.split('\n').map(l => l.split(' ')[0]!).filter(n => n.startsWith(`fst${process.pid}r`))
}
