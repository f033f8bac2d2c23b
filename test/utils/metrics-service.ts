import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { stringify } from 'yaml'
import { FST, freePort, Mesh, type MeshOptions } from './mesh.js'

/**
 * `fst metrics` running next to a Mesh: it gets its own dir under the mesh root and is listed in the
 * shared sync-peers.txt, so the nodes admit it like any peer.
 */
export class MetricsProcess {
  process: ChildProcess | null = null
  peerId = ''
  private output = ''
  private config: Record<string, unknown> = {}

  private constructor (readonly mesh: Mesh, readonly dir: string, readonly p2pPort: number, readonly httpPort: number) {}

  /**
   * Creates a mesh whose sync-peers.txt lists a metrics peer too, starts the metrics service (first, so its
   * port is bound moments after it was picked), then the nodes.
   */
  static async withMesh (options: MeshOptions, config: Record<string, unknown> = {}): Promise<{ mesh: Mesh, metrics: MetricsProcess }> {
    const p2pPort = await freePort()
    const httpPort = await freePort()
    const mesh = await Mesh.create({
      ...options,
      start: false,
      peersFile: nodes => [...nodes.map(n => `127.0.0.1:${n.port}`), `127.0.0.1:${p2pPort}`].join('\n')
    })
    const metrics = new MetricsProcess(mesh, join(mesh.root, 'metrics'), p2pPort, httpPort)
    try {
      await metrics.start(config)
      await mesh.startAll()
      await metrics.waitSubscribed()
    } catch (err) {
      await metrics.stop()
      await mesh.stop()
      throw err
    }
    return { mesh, metrics }
  }

  get url (): string {
    return `http://127.0.0.1:${this.httpPort}/`
  }

  log (): string {
    return this.output
  }

  private async start (config: Record<string, unknown>): Promise<void> {
    this.config = config
    mkdirSync(this.dir, { recursive: true })
    const configFile = join(this.dir, 'config.yml')
    writeFileSync(configFile, stringify({
      listen: [`127.0.0.1:${this.p2pPort}`],
      peersFile: '../sync-peers.txt',
      stateDir: 'state',
      redial: { minMs: 100, maxMs: 1000 },
      metrics: { listen: `127.0.0.1:${this.httpPort}`, dashboard: true, token: null },
      ...config
    }))
    const child = spawn(process.execPath, [FST, 'metrics', '--config', configFile], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (d: Buffer) => { this.output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { this.output += d.toString() })
    this.process = child
    let exited = false
    child.once('exit', () => { exited = true })
    await pWaitFor(async () => {
      if (exited) throw new Error(`fst metrics exited during start:\n${this.output}`)
      const res = await fetch(`${this.url}api/summary`, { headers: this.authHeaders(config) }).catch(() => null)
      if (res?.status !== 200) return false
      this.peerId = ((await res.json()) as { self: string }).self
      return true
    }, { interval: 50, timeout: 20_000 })
  }

  private authHeaders (config: Record<string, unknown>): Record<string, string> {
    const token = (config.metrics as { token?: string } | undefined)?.token
    return token === undefined ? {} : { authorization: `Bearer ${token}` }
  }

  /** Waits until every running node has the metrics peer as a topic subscriber (so publishes reach it). */
  async waitSubscribed (timeout = 20_000): Promise<void> {
    const running = this.mesh.nodes.filter(n => n.process !== null)
    await pWaitFor(async () => {
      const statuses = await Promise.all(running.map(n => this.mesh.status(n.index)))
      return statuses.every(s => s.meshPeers.includes(this.peerId))
    }, { interval: 50, timeout }).catch(err => {
      throw new Error(`metrics peer not subscribed everywhere: ${(err as Error).message}\n${this.output.slice(-3000)}`)
    })
  }

  /** GET /metrics as text. */
  async scrape (): Promise<string> {
    const res = await fetch(`${this.url}metrics`)
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
    return res.text()
  }

  /** Stops the service gracefully and starts it again on the same folder, ports and config. */
  async restart (): Promise<void> {
    await this.stop('SIGTERM')
    this.output = ''
    await this.start(this.config)
    await this.waitSubscribed()
  }

  async stop (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.process
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill(signal)
    await exited
    this.process = null
  }
}

/** The value of one sample in a Prometheus text exposition, e.g. `fst_mesh_bans_total{name="sshd"}`; undefined if absent. */
export function sample (text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return undefined
}
