import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type AddressGuard, addressGuard } from '@fst/protocol'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { NodeConfig } from '../config/config.js'
import { Dialer } from './dialer.js'
import { gossipTuning } from './fleet-params.js'
import { TOPIC } from './gossip-params.js'
import { createHost, type Host, readNetworkKey } from './host.js'
import { isNetworkKey } from '../trust/network-key.js'
import { loadOrCreateIdentity } from '../trust/identity.js'
import { Provenance } from '../trust/provenance.js'
import { LivenessMonitor } from './liveness.js'
import { logPeerChanges } from './peer-log.js'
import { type InboundRefusal, Membership } from '../trust/membership.js'
import { LogThrottle } from '../metrics/log-throttle.js'
import { listenAddr, type PeerEntry, parsePeersFile } from '../trust/peers-file.js'
import { PinStore } from '../trust/pins.js'
import { RateLimiter } from './rate-limit.js'
import { installWorkarounds, type Upstream } from '../upstream/index.js'
import { createMessageValidator, type MessageVerdict } from './validator.js'
import { ConfigError, errnoText, PeersFileError } from '../errors.js'

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
  /** Accessors of libp2p internals, checked at start-up (upstream/). */
  upstream: Upstream = { score: () => null }
  /** Signs this node's batches, verifies everyone's entries (protocol v2). */
  provenance!: Provenance
  private dialer: Dialer | null = null
  private liveness: LivenessMonitor | null = null
  private stopPeerLog: () => void = () => {}

  /** `onConnectionRefused` counts the gater's refusals (a node's metric); its lines are throttled here either way. */
  constructor (
    private readonly config: NodeConfig,
    private readonly log: Logger,
    private readonly onConnectionRefused: (reason: InboundRefusal) => void = () => {}
  ) {}

  /** Loads (or creates) the identity, starts the host behind the membership's gater and reads the peers file. */
  async start (metricsRegistry: Registry | null = null): Promise<void> {
    const { config, log } = this
    // every file and setting first: a mistake in one must not leave a new identity key behind
    const entries = this.readPeers()
    let networkKey: Uint8Array | null
    try {
      networkKey = readNetworkKey(config.networkKeyFile)
    } catch (err) {
      throw new ConfigError(`networkKeyFile: ${config.networkKeyFile}: cannot read: ${errnoText(err)}`)
    }
    if (networkKey !== null && !isNetworkKey(networkKey)) {
      throw new ConfigError(`networkKeyFile: ${config.networkKeyFile}: not a libp2p swarm key (create one with fst keygen)`)
    }
    const listen = config.listen.map(item => {
      try {
        return listenAddr(item)
      } catch (err) {
        throw new ConfigError(`listen: ${(err as Error).message}`)
      }
    })
    await probeListen(listen, config.listen)
    const privateKey = await loadOrCreateIdentity(config.stateDir)
    this.peerId = peerIdFromPrivateKey(privateKey).toString()
    this.provenance = new Provenance(privateKey, this.peerId)
    const membershipLog = log.child({ component: 'membership' })
    this.membership = new Membership(this.peerId, new PinStore(config.stateDir), membershipLog, {
      throttle: new LogThrottle(membershipLog),
      onRefused: this.onConnectionRefused
    })
    // gossipsub takes its parameters once, at start: by the fleet's size then (a SIGHUP does not change them)
    const fleetSize = entries.length
    const gossip = gossipTuning(fleetSize, config.gossip)
    const { maxPeers, rotateS } = config.connectivity
    try {
      this.host = await createHost({
        privateKey,
        listen,
        muxers: config.muxers,
        gater: this.membership.gater(() => this.dialer?.dialUnpinned(), {
          inbound: id => this.dialer?.admission()?.inbound(id) ?? true,
          outbound: (member, id) => this.dialer?.admission()?.outbound(member, id) ?? true
        }, {
          isConnected: id => this.host?.getConnections().some(c => c.remotePeer.toString() === id) ?? false,
          dial: members => this.dialer?.dialNow(members)
        }),
        networkKey,
        metricsRegistry,
        gossip,
        // room for duplicates of a simultaneous dial and for probes above the subset's own bound
        maxConnections: 2 * maxPeers + 16
      })
    } catch (err) {
      throw listenError(err, config.listen)
    }
    log.info({ fleetSize, maxPeers, partial: fleetSize - 1 > maxPeers, gossip }, 'mesh parameters')
    this.upstream = installWorkarounds(this.host, log.child({ component: 'upstream' }))
    this.stopPeerLog = logPeerChanges(this.host, () => this.membership, log.child({ component: 'peers' }))
    await this.loadPeers(entries)
    // before the first dial: the gater asks it whether a member's connection fits the bound
    this.dialer = new Dialer({ host: this.host, membership: this.membership, ...config.redial, connectivity: { maxPeers, rotateMs: rotateS * 1000 }, log: log.child({ component: 'dialer' }) })
    this.liveness = new LivenessMonitor({ host: this.host, intervalMs: PING_INTERVAL_MS, log: log.child({ component: 'liveness' }) })
    this.liveness.start()
  }

  /** Reads and parses sync-peers.txt; a PeersFileError names the file and the entry. */
  readPeers (): PeerEntry[] {
    const file = this.config.peersFile
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new PeersFileError(`peersFile: ${file}: cannot read: ${errnoText(err)}`)
    }
    try {
      return parsePeersFile(text, this.config.defaultPort, this.config.peersFileMaxEntries)
    } catch (err) {
      throw new PeersFileError(`${file}: ${(err as Error).message}`)
    }
  }

  /** Loads the peers file's entries (start and SIGHUP) and recomputes the never-ban list. */
  async loadPeers (entries: PeerEntry[] = this.readPeers()): Promise<void> {
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
      rateLimiter: new RateLimiter(this.config.rateLimit.perSecond, this.config.rateLimit.burst),
      provenance: this.provenance
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
    this.stopPeerLog()
    this.stopDialing()
    await this.host?.stop()
  }
}

/** libp2p's start failure for a busy or foreign listen address, as one line naming the key. */
function listenError (err: unknown, listen: readonly string[]): Error {
  const text = `${(err as Error)?.message ?? ''} ${String((err as { cause?: unknown })?.cause ?? '')}`
  const code = (err as NodeJS.ErrnoException)?.code ?? /\b(EADDRINUSE|EADDRNOTAVAIL|EACCES)\b/.exec(text)?.[1]
  if (code === undefined || !['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES'].includes(code)) return err as Error
  return new ConfigError(`listen: ${listen.join(' ')}: ${errnoText({ code })}`)
}

/**
 * Binds each fixed listen port for a moment before the identity key is created, so that a busy port (a
 * second node with another state dir) fails the start with one line and no key left behind. libp2p's own
 * listen still decides; this only finds the common mistake early.
 */
async function probeListen (addrs: readonly string[], listen: readonly string[]): Promise<void> {
  for (const addr of addrs) {
    const m = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)$/.exec(addr)
    if (m === null || m[2] === '0') continue
    await new Promise<void>((resolve, reject) => {
      const server = createServer()
      server.once('error', err => reject(listenError(err, listen)))
      server.listen({ host: m[1], port: Number(m[2]), exclusive: true }, () => server.close(() => resolve()))
    })
  }
}
