import { readFileSync } from 'node:fs'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  createHost, createMessageValidator, Dialer, type Host, listenAddr, loadOrCreateIdentity, Membership, type MessageVerdict,
  LogThrottle, type NodeConfig, parsePeersFile, PinStore, RateLimiter, readNetworkKey, TOPIC
} from '@fst/node'
import { type AddressGuard, addressGuard, actionFamily, decodeMessage, type FstEvent } from '@fst/protocol'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { Aggregator } from './aggregator.js'
import { LabelCap } from './labels.js'
import { createMetrics, LABEL_CAP, type MeshMetrics } from './metrics.js'

/** A listed mesh peer as the dashboard shows it. */
export interface PeerView {
  entry: string
  peerId: string | null
  connected: boolean
  /** Last accepted message signed by this peer, ms since the epoch. */
  lastHeard: number | null
}

/**
 * The metrics peer: joins the mesh like a node (listed in sync-peers.txt, same gater, same validator),
 * never publishes, and turns what it sees into Prometheus counters and the dashboard's aggregates.
 */
export class MeshObserver {
  readonly registry = new Registry()
  readonly aggregator: Aggregator
  readonly metrics: MeshMetrics
  peerId = ''
  host!: Host
  private membership!: Membership
  private dialer!: Dialer
  private guard!: AddressGuard
  private readonly lastHeard = new Map<string, number>()
  private readonly actionLabels = new LabelCap(LABEL_CAP)
  private readonly nameLabels = new LabelCap(LABEL_CAP)
  private readonly listeners = new Set<() => void>()
  // a peer flooding bad messages fills counters, not the disk
  private readonly throttle: LogThrottle

  constructor (readonly config: NodeConfig, private readonly log: Logger, aggregator = new Aggregator(), dashboardClients: () => number = () => 0) {
    this.throttle = new LogThrottle(log)
    this.aggregator = aggregator
    this.metrics = createMetrics(this.registry, {
      activeBans: () => this.aggregator.activeBans(),
      peersConnected: () => (this.host === undefined ? 0 : this.connectedPeers().length),
      dashboardClients
    })
  }

  async start (): Promise<void> {
    const { config, log } = this
    const privateKey = await loadOrCreateIdentity(config.stateDir)
    this.peerId = peerIdFromPrivateKey(privateKey).toString()
    this.membership = new Membership(this.peerId, new PinStore(config.stateDir), log.child({ component: 'membership' }))
    this.host = await createHost({
      privateKey,
      listen: config.listen.map(listenAddr),
      muxers: config.muxers,
      gater: this.membership.gater(),
      networkKey: readNetworkKey(config.networkKeyFile)
    })
    await this.loadPeers()
    this.joinTopic()
    this.dialer = new Dialer({ host: this.host, membership: this.membership, ...config.redial, log: log.child({ component: 'dialer' }) })
    this.dialer.dialAll()
    this.host.addEventListener('connection:open', () => this.changed())
    this.host.addEventListener('connection:close', () => this.changed())
    log.info({ peerId: this.peerId, listen: this.host.getMultiaddrs().map(String), peers: this.membership.others().length }, 'metrics peer started')
  }

  /** Reads sync-peers.txt (start and SIGHUP), exactly as a node does. */
  async loadPeers (): Promise<void> {
    const entries = parsePeersFile(readFileSync(this.config.peersFile, 'utf8'), this.config.defaultPort)
    const ports = this.host.getMultiaddrs().map(ma => Number(ma.toString().split('/tcp/')[1]?.split('/')[0]))
    await this.membership.load(entries, ports)
    this.guard = addressGuard({
      protect: [...this.config.ignore, ...this.membership.protectedAddresses()],
      minPrefixV4: this.config.minPrefixV4,
      minPrefixV6: this.config.minPrefixV6
    })
  }

  async reload (): Promise<void> {
    await this.loadPeers()
    for (const conn of this.host.getConnections()) {
      if (!this.membership.isMember(conn.remotePeer.toString())) await conn.close()
    }
    this.dialer.dialAll()
    this.log.info({ peers: this.membership.others().length }, 'peers file reloaded')
    this.changed()
  }

  /** Called (coalesced by the caller) whenever the aggregates or the peer list changed. */
  onChange (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private changed (): void {
    for (const listener of this.listeners) listener()
  }

  private joinTopic (): void {
    const pubsub = this.host.services.pubsub
    const validate = createMessageValidator({
      isMember: id => this.membership.isMember(id),
      guard: () => this.guard,
      freshness: this.config.freshness,
      rateLimiter: new RateLimiter(this.config.rateLimit.perSecond, this.config.rateLimit.burst)
    })
    pubsub.topicValidators.set(TOPIC, (_from, msg) => {
      const verdict = validate(msg)
      this.observe(verdict, msg.data)
      if (verdict.result === 'accept') return TopicValidatorResult.Accept
      this.throttle.warn(verdict.reason, { error: verdict.error }, `message ${verdict.result === 'reject' ? 'rejected' : 'ignored'}`)
      return verdict.result === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
    pubsub.subscribe(TOPIC)
  }

  /** Counts one validated message; accepted events also feed the aggregator. */
  observe (verdict: MessageVerdict, data: Uint8Array): void {
    const { metrics } = this
    metrics.messages.inc({ outcome: verdict.result })
    if (verdict.result !== 'accept') {
      metrics.rejected.inc({ reason: verdict.reason })
      // a refused message may still decode: count its events by action so attacks on one jail show
      const decoded = decodeMessage(data)
      if (decoded.valid) for (const event of decoded.value) this.countEvent(event, verdict.result)
      return
    }
    const now = Date.now()
    this.lastHeard.set(verdict.origin, now)
    for (const event of verdict.events) {
      this.countEvent(event, 'accept')
      const name = this.nameLabels.value(event.name)
      if (actionFamily(event.action).removes) metrics.unbans.inc({ name })
      else metrics.bans.inc({ name })
      metrics.delay.observe(Math.max(0, now - event.time) / 1000)
      this.aggregator.record(event, verdict.origin)
    }
    this.changed()
  }

  private countEvent (event: FstEvent, outcome: string): void {
    this.metrics.events.inc({ action: this.actionLabels.value(event.action), name: this.nameLabels.value(event.name), outcome })
  }

  connectedPeers (): string[] {
    return [...new Set(this.host.getConnections().map(c => c.remotePeer.toString()))]
  }

  /** Listed peers (this service excluded) with their connection state and when each was last heard. */
  peers (): PeerView[] {
    const connected = new Set(this.connectedPeers())
    return this.membership.others().map(m => ({
      entry: m.entry.text,
      peerId: m.peerId ?? null,
      connected: m.peerId !== undefined && connected.has(m.peerId),
      lastHeard: m.peerId === undefined ? null : (this.lastHeard.get(m.peerId) ?? null)
    }))
  }

  async stop (): Promise<void> {
    this.dialer?.stop()
    await this.host?.stop()
  }
}
