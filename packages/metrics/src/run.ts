import { ConfigError, createProcessLogger, HttpEndpoint, isLoopback, type NodeConfig, parseHostPort, runInForeground } from '@fst/node'
import type { Logger } from 'pino'
import { collectDefaultMetrics } from 'prom-client'
import { Aggregator } from './aggregator.js'
import { dashboardRoutes, EventStreams } from './http.js'
import { MeshObserver } from './service.js'

/** Pushes to dashboards: the first change goes out at once, later ones are coalesced to one per interval. */
const PUSH_MS = 250
/** A push also happens this often when nothing changed, so "last heard" and the chart keep moving. */
const REFRESH_MS = 5_000

/**
 * `fst metrics`: the mesh observer, plus an HTTP endpoint for Prometheus and the live dashboard.
 * Refuses to listen beyond loopback without a token.
 */
export class MetricsService {
  readonly observer: MeshObserver
  readonly streams = new EventStreams()
  private readonly http: HttpEndpoint
  private pending: NodeJS.Timeout | null = null
  private refresher: NodeJS.Timeout | null = null
  private lastPush = 0

  constructor (readonly config: NodeConfig, private readonly log: Logger) {
    const { host } = parseHostPort(config.metrics.listen, 'metrics.listen')
    if (!isLoopback(host) && config.metrics.token === null) {
      throw new ConfigError(`metrics.token: required when metrics.listen is not a loopback address (got ${JSON.stringify(config.metrics.listen)})`)
    }
    this.observer = new MeshObserver(config, log, new Aggregator(), () => this.streams.size)
    // process figures (memory, CPU, event-loop lag) on the service's own registry
    collectDefaultMetrics({ register: this.observer.registry })
    this.http = new HttpEndpoint(config.metrics.listen, 'metrics.listen', dashboardRoutes({
      registry: this.observer.registry,
      dashboard: config.metrics.dashboard,
      token: config.metrics.token,
      snapshot: () => this.snapshot(),
      streams: this.streams,
      assetsDir: new URL('../public/', import.meta.url)
    }), log.child({ component: 'http' }))
  }

  async start (): Promise<void> {
    await this.observer.start()
    this.observer.onChange(() => this.schedulePush())
    const address = await this.http.start()
    this.refresher = setInterval(() => this.schedulePush(), REFRESH_MS)
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
    this.log.info({ url: `http://${shown}:${address.port}/` }, this.config.metrics.dashboard ? 'dashboard and /metrics ready' : '/metrics ready')
  }

  /** The bound HTTP address (port 0 in tests becomes a real one). */
  httpAddress () {
    return this.http.address()
  }

  /** What the dashboard draws: the aggregates, the peers, and who we are. */
  snapshot () {
    return { self: this.observer.peerId, ...this.observer.aggregator.summary(), peers: this.observer.peers() }
  }

  private schedulePush (): void {
    if (this.pending !== null || this.streams.size === 0) return
    const wait = Math.max(0, this.lastPush + PUSH_MS - Date.now())
    this.pending = setTimeout(() => {
      this.pending = null
      this.lastPush = Date.now()
      this.streams.broadcast(this.snapshot())
    }, wait)
  }

  /** SIGHUP: the observer re-reads sync-peers.txt. */
  async reload (): Promise<void> {
    await this.observer.reload()
  }

  async stop (): Promise<void> {
    if (this.pending !== null) clearTimeout(this.pending)
    if (this.refresher !== null) clearInterval(this.refresher)
    this.streams.close()
    await this.http.stop()
    await this.observer.stop()
  }
}

/** Runs the service in the foreground until SIGINT/SIGTERM (see runInForeground in @fst/node). */
export async function runMetricsService (config: NodeConfig, logger?: Logger): Promise<MetricsService> {
  const log = logger ?? await createProcessLogger(config.logLevel, config.logFormat)
  const service = new MetricsService(config, log)
  await runInForeground(service, log)
  return service
}
