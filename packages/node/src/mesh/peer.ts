import { readFileSync } from 'node:fs'
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type AddressGuard, addressGuard } from '@fst/protocol'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { NodeConfig } from '../config/config.js'
import { dedupeConnections } from '../upstream/dedupe-connections.js'
import { Dialer } from './dialer.js'
import { gossipTuning } from './fleet-params.js'
import { TOPIC } from './gossip-params.js'
import { createHost, type Host, readNetworkKey } from './host.js'
import { loadOrCreateIdentity } from '../trust/identity.js'
import { LivenessMonitor } from './liveness.js'
import { Membership } from '../trust/membership.js'
import { listenAddr, parsePeersFile } from '../trust/peers-file.js'
import { PinStore } from '../trust/pins.js'
import { RateLimiter } from './rate-limit.js'
import { createMessageValidator, type MessageVerdict } from './validator.js'

/**
 * Each connection is pinged once in this time; with the 5 s minimum ping timeout a peer behind a cut link
 * is dropped within 5-15 s (13 s in the partition test). A yamux ping is one 12-byte frame each way, so
 * this costs far less than libp2p's monitor did at 10 s.
 */
const PING_INTERVAL_MS = 5000

/** Sees every verdict before gossipsub acts on it (accept, reject or ignore). */
export type VerdictListener = (verdict: MessageVerdict, msg: Message, from: PeerId) => void | Promise<void>

/**
 * What a node and the metrics service share as members of the mesh: the persistent identity, the membership
 * from sync-peers.txt (pins, connection gater, never-ban list), the libp2p host, the redialer, and the topic
 * joined through the one message validator.
 */
export class MeshPeer {
  peerId = ''
  host!: Host
  membership!: Membership
  /** Never-ban list and minimum prefixes; recomputed whenever the peers file is read. */
  guard!: AddressGuard
  private dialer: Dialer | null = null
  private liveness: LivenessMonitor | null = null

  constructor (private readonly config: NodeConfig, private readonly log: Logger) {}

  /** Loads (or creates) the identity, starts the host behind the membership's gater and reads the peers file. */
  async start (metricsRegistry: Registry | null = null): Promise<void> {
    const { config, log } = this
    const privateKey = await loadOrCreateIdentity(config.stateDir)
    this.peerId = peerIdFromPrivateKey(privateKey).toString()
    this.membership = new Membership(this.peerId, new PinStore(config.stateDir), log.child({ component: 'membership' }))
    // gossipsub takes its parameters once, at start: by the fleet's size then (a SIGHUP does not change them)
    const fleetSize = this.readPeersFile().length
    const gossip = gossipTuning(fleetSize, config.gossip)
    const { maxPeers } = config.connectivity
    this.host = await createHost({
      privateKey,
      listen: config.listen.map(listenAddr),
      muxers: config.muxers,
      gater: this.membership.gater(() => this.dialer?.dialUnpinned(), {
        inbound: id => this.dialer?.admission()?.inbound(id) ?? true,
        outbound: (member, id) => this.dialer?.admission()?.outbound(member, id) ?? true
      }),
      networkKey: readNetworkKey(config.networkKeyFile),
      metricsRegistry,
      gossip,
      // room for duplicates of a simultaneous dial and for probes above the subset's own bound
      maxConnections: 2 * maxPeers + 16
    })
    log.info({ fleetSize, maxPeers, partial: fleetSize - 1 > maxPeers, gossip }, 'mesh parameters')
    dedupeConnections(this.host)
    await this.loadPeers()
    // before the first dial: the gater asks it whether a member's connection fits the bound
    const { rotateS } = config.connectivity
    this.dialer = new Dialer({ host: this.host, membership: this.membership, ...config.redial, connectivity: { maxPeers, rotateMs: rotateS * 1000 }, log: log.child({ component: 'dialer' }) })
    this.liveness = new LivenessMonitor({ host: this.host, intervalMs: PING_INTERVAL_MS, log: log.child({ component: 'liveness' }) })
    this.liveness.start()
  }

  /** Reads sync-peers.txt (start and SIGHUP) and recomputes the never-ban list. */
  async loadPeers (): Promise<void> {
    const entries = this.readPeersFile()
    const ports = this.host.getMultiaddrs().map(ma => Number(ma.toString().split('/tcp/')[1]?.split('/')[0]))
    await this.membership.load(entries, ports)
    this.guard = addressGuard({
      protect: [...this.config.ignore, ...this.membership.protectedAddresses()],
      minPrefixV4: this.config.minPrefixV4,
      minPrefixV6: this.config.minPrefixV6
    })
  }

  /** SIGHUP: re-read the peers file, drop peers no longer listed, dial new ones. */
  async reload (): Promise<void> {
    await this.loadPeers()
    for (const conn of this.host.getConnections()) {
      if (!this.membership.isMember(conn.remotePeer.toString())) await conn.close()
    }
    this.dialAll()
    this.log.info({ peers: this.membership.others().length }, 'peers file reloaded')
  }

  private readPeersFile () {
    return parsePeersFile(readFileSync(this.config.peersFile, 'utf8'), this.config.defaultPort)
  }

  /**
   * Subscribes to the topic; every message passes the shared validator, `listener` sees the verdict, and
   * gossipsub accepts, rejects (penalising the forwarder) or ignores it accordingly.
   */
  joinTopic (listener: VerdictListener): void {
    const pubsub = this.host.services.pubsub
    const validate = createMessageValidator({
      isMember: id => this.membership.isMember(id),
      anyUnpinned: () => this.membership.unpinned().length > 0,
      guard: () => this.guard,
      freshness: this.config.freshness,
      rateLimiter: new RateLimiter(this.config.rateLimit.perSecond, this.config.rateLimit.burst)
    })
    const trace = this.log.child({ component: 'gossip' })
    pubsub.topicValidators.set(TOPIC, async (from, msg) => {
      const verdict = validate(msg)
      // gossipsub validates the first copy of a message only: `from` is the peer it came through, which
      // gives the hop count of a delivery (the scale bench reads these lines; debug level only)
      if (verdict.result === 'accept' && trace.isLevelEnabled('debug')) trace.debug({ origin: verdict.origin, via: from.toString(), ip: verdict.events[0]?.ip, events: verdict.events.length }, 'first copy')
      await listener(verdict, msg, from)
      if (verdict.result === 'accept') return TopicValidatorResult.Accept
      return verdict.result === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
    pubsub.subscribe(TOPIC)
  }

  /** Dials every other member now and keeps redialing lost ones (start, SIGHUP, repin). */
  dialAll (): void {
    this.dialer?.dialAll()
  }

  /** Stops redialing; the host stays up. */
  stopDialing (): void {
    this.dialer?.stop()
  }

  connectedPeers (): string[] {
    return [...new Set(this.host.getConnections().map(c => c.remotePeer.toString()))]
  }

  async stop (): Promise<void> {
    this.liveness?.stop()
    this.stopDialing()
    await this.host?.stop()
  }
}
