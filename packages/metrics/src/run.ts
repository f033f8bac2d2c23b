import { join } from 'node:path'
import { ConfigError, createProcessLogger, HttpEndpoint, isLoopback, type NodeConfig, parseHostPort, runInForeground } from '@fst/node'
import { actionFamily, parseAddress } from '@fst/protocol'
import type { Logger } from 'pino'
import { collectDefaultMetrics } from 'prom-client'
import { Aggregator } from './aggregator.js'
import { GeoLookup } from './geo.js'
import { HistoryStore } from './history.js'
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
  private geo: GeoLookup | null = null
  private history: HistoryStore | null = null

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
      address: ip => this.address(ip),
      assetsDir: new URL('../public/', import.meta.url)
    }), log.child({ component: 'http' }))
  }

  async start (): Promise<void> {
    const { aggregator } = this.observer
    // offline databases (npm packages; the fst-geoip package); without them the dashboard says so, nothing else changes
    this.geo = !this.config.metrics.geoip
      ? null
      : await GeoLookup.open().catch(err => {
        this.log.warn({ err: (err as Error).message }, 'geo databases not available (install fst-geoip): no countries or ASes')
        return null
      })
    if (this.geo !== null) aggregator.useGeo(ip => this.geo!.lookup(ip))
    // the history of the previous run first, then the mesh
    const history = await HistoryStore.open(join(this.config.stateDir, 'metrics-history'))
    this.history = history
    let replayed = 0
    for (const item of history.storedEvents()) { aggregator.replay(item); replayed++ }
    for (const refusal of history.storedRefusals()) aggregator.refused(refusal)
    if (replayed > 0) this.log.info({ events: replayed }, 'history replayed')
    this.observer.useHistory(history)
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

  /**
   * The search: one address (or CIDR) with its stored events, newest first, its country and AS, and the
   * bans on it now; null when the text is not an address.
   */
  address (text: string) {
    const parsed = parseAddress(text)
    if (!parsed.valid) return null
    const ip = parsed.value.text
    const events = this.history?.address(ip) ?? this.observer.aggregator.summary(200).feed.filter(e => e.ip === ip)
    const now = Date.now()
    // the latest event per family and name decides, as in a node's ledger
    const latest = new Map<string, (typeof events)[number]>()
    for (const e of events) {
      const key = `${actionFamily(e.action).family}|${e.name}`
      const prev = latest.get(key)
      if (prev === undefined || e.time > prev.time) latest.set(key, e)
    }
    const active = [...latest.values()]
      .filter(e => !actionFamily(e.action).removes && (e.duration === 0 || e.time + e.duration * 1000 > now))
      .map(e => ({ name: e.name, action: e.action, origin: e.origin, expires: e.duration === 0 ? null : e.time + e.duration * 1000 }))
    return { ip, geo: this.geo?.lookup(ip) ?? null, active, events }
  }

  /** What the dashboard draws: the aggregates, the peers, and who we are. */
  snapshot () {
    const geo = this.geo !== null ? 'on' : this.config.metrics.geoip ? 'missing' : 'off'
    return { self: this.observer.peerId, ...this.observer.aggregator.summary(), peers: this.observer.peers(), geo }
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
    await this.history?.close()
    this.geo?.close()
  }
}

/** Runs the service in the foreground until SIGINT/SIGTERM (see runInForeground in @fst/node). */
export async function runMetricsService (config: NodeConfig, logger?: Logger): Promise<MetricsService> {
  const log = logger ?? await createProcessLogger(config.logLevel, config.logFormat)
  const service = new MetricsService(config, log)
  await runInForeground(service, log)
  return service
}
