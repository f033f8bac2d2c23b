import { type Host, LogThrottle, MeshPeer, type MessageVerdict, type NodeConfig } from '@fst/node'
import { actionFamily, decodeMessage, type FstEvent } from '@fst/protocol'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { Aggregator } from './aggregator.js'
import type { HistoryStore } from './history.js'
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
  private readonly mesh: MeshPeer
  private readonly lastHeard = new Map<string, number>()
  private readonly actionLabels = new LabelCap(LABEL_CAP)
  private readonly nameLabels = new LabelCap(LABEL_CAP)
  private readonly listeners = new Set<() => void>()
  // a peer flooding bad messages fills counters, not the disk
  private readonly throttle: LogThrottle
  private history: HistoryStore | null = null

  constructor (readonly config: NodeConfig, private readonly log: Logger, aggregator = new Aggregator(), dashboardClients: () => number = () => 0) {
    this.mesh = new MeshPeer(config, log)
    this.throttle = new LogThrottle(log)
    this.aggregator = aggregator
    this.metrics = createMetrics(this.registry, {
      activeBans: () => this.aggregator.activeBans(),
      peersConnected: () => (this.host === undefined ? 0 : this.connectedPeers().length),
      dashboardClients
    })
  }

  get peerId (): string { return this.mesh.peerId }
  get host (): Host { return this.mesh.host }

  async start (): Promise<void> {
    await this.mesh.start()
    // the same validator as a node: what a node would refuse is counted as refused here
    this.mesh.joinTopic((verdict, msg) => {
      this.observe(verdict, msg.data, msg.type === 'signed' ? `${msg.from.toString()}/${msg.sequenceNumber}` : undefined)
      if (verdict.result !== 'accept') this.throttle.warn(verdict.reason, { error: verdict.error }, `message ${verdict.result === 'reject' ? 'rejected' : 'ignored'}`)
    })
    this.mesh.dialAll()
    this.host.addEventListener('connection:open', () => this.changed())
    this.host.addEventListener('connection:close', () => this.changed())
    this.log.info({ peerId: this.peerId, listen: this.host.getMultiaddrs().map(String), peers: this.mesh.membership.others().length }, 'metrics peer started')
  }

  /** Keeps every accepted event and refused message in the store from now on. */
  useHistory (history: HistoryStore): void {
    this.history = history
  }

  /** Reads sync-peers.txt (start and SIGHUP), exactly as a node does. */
  async loadPeers (): Promise<void> {
    await this.mesh.loadPeers()
  }

  async reload (): Promise<void> {
    await this.mesh.reload()
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

  /**
   * Counts one validated message; accepted events also feed the aggregator. `message` (signer/seqno)
   * identifies a refused message, so a copy gossip re-delivers after a restart is not counted twice.
   */
  observe (verdict: MessageVerdict, data: Uint8Array, message?: string): void {
    const { metrics } = this
    if (verdict.result !== 'accept') {
      const refusal = { received: Date.now(), reason: verdict.reason, result: verdict.result, message }
      if (!this.aggregator.refused(refusal)) {
        metrics.duplicates.inc({ kind: 'refusal' })
        return
      }
      metrics.messages.inc({ outcome: verdict.result })
      metrics.rejected.inc({ reason: verdict.reason })
      this.history?.addRefusal(refusal)
      this.changed()
      // a refused message may still decode: count its events by action so attacks on one jail show
      const decoded = decodeMessage(data)
      if (decoded.valid) for (const event of decoded.value.events) this.countEvent(event, verdict.result)
      return
    }
    metrics.messages.inc({ outcome: verdict.result })
    const now = Date.now()
    this.lastHeard.set(verdict.origin, now)
    for (const event of verdict.events) {
      const item = this.aggregator.record(event, verdict.origin)
      // a copy of an event recorded before (a restart emptied gossipsub's seen cache, not the history)
      if (item === null) {
        metrics.duplicates.inc({ kind: 'event' })
        continue
      }
      this.countEvent(event, 'accept')
      const name = this.nameLabels.value(event.name)
      if (actionFamily(event.action).removes) metrics.unbans.inc({ name })
      else metrics.bans.inc({ name })
      metrics.delay.observe(Math.max(0, now - event.time) / 1000)
      this.history?.addEvent(item)
    }
    this.changed()
  }

  private countEvent (event: FstEvent, outcome: string): void {
    this.metrics.events.inc({ action: this.actionLabels.value(event.action), name: this.nameLabels.value(event.name), outcome })
  }

  connectedPeers (): string[] {
    return this.mesh.connectedPeers()
  }

  /** Listed peers (this service excluded) with their connection state and when each was last heard. */
  peers (): PeerView[] {
    const connected = new Set(this.connectedPeers())
    return this.mesh.membership.others().map(m => ({
      entry: m.entry.text,
      peerId: m.peerId ?? null,
      connected: m.peerId !== undefined && connected.has(m.peerId),
      lastHeard: m.peerId === undefined ? null : (this.lastHeard.get(m.peerId) ?? null)
    }))
  }

  async stop (): Promise<void> {
    await this.mesh.stop()
  }
}
