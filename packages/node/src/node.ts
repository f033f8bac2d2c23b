import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  actionFamily, type AddressGuard, addressGuard, type ControlRequest, type ControlResponse, encodeMessage, type FstEvent, validateInput
} from '@fst/protocol'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { Batcher } from './batcher.js'
import type { NodeConfig } from './config.js'
import { ControlServer } from './control-server.js'
import { Dialer } from './dialer.js'
import { TOPIC } from './gossip-params.js'
import { createHost, type Host, readNetworkKey } from './host.js'
import { loadOrCreateIdentity } from './identity.js'
import { type Change, isActive, Ledger, type LedgerEntry, ledgerKey } from './ledger.js'
import { Membership } from './membership.js'
import { createNodeMetrics, type NodeMetrics } from './metrics.js'
import { LogThrottle } from './log-throttle.js'
import { listenAddr, parsePeersFile } from './peers-file.js'
import { PinStore } from './pins.js'
import { QuorumTracker } from './quorum.js'
import { RateLimiter } from './rate-limit.js'
import { ActionRunner, type Job } from './runner.js'
import { createMessageValidator, type MessageVerdict } from './validator.js'

export { TOPIC }
/** How often expired bans are looked for. */
const EXPIRY_SWEEP_MS = 200
/** How long SIGTERM waits for queued scripts. */
const DRAIN_MS = 10_000

/**
 * An FST node: the libp2p host on the mesh, the control socket the hook talks to, the ledger, and the
 * runner that applies received events. One ban's path: `publish()` → ledger → batcher → gossipsub →
 * every peer's validator → `receive()` → ledger → runner.
 */
export class FstNode {
  readonly registry = new Registry()
  readonly metrics: NodeMetrics = createNodeMetrics(this.registry)
  peerId = ''
  host!: Host
  ledger!: Ledger
  membership!: Membership
  private runner!: ActionRunner
  private batcher!: Batcher
  private control!: ControlServer
  private dialer!: Dialer
  private guard!: AddressGuard
  private sweeper: NodeJS.Timeout | null = null
  private readonly verdicts = new WeakMap<object, MessageVerdict>()
  private readonly lastHeard = new Map<string, number>()
  private quorum!: QuorumTracker
  private throttle!: LogThrottle

  constructor (readonly config: NodeConfig, private readonly log: Logger) {}

  async start (): Promise<void> {
    const { config, log } = this
    const privateKey = await loadOrCreateIdentity(config.stateDir)
    this.quorum = new QuorumTracker(config.quorum)
    this.throttle = new LogThrottle(log)
    this.peerId = peerIdFromPrivateKey(privateKey).toString()
    this.membership = new Membership(this.peerId, new PinStore(config.stateDir), log.child({ component: 'membership' }))
    this.ledger = Ledger.open(join(config.stateDir, 'ledger'))
    this.host = await createHost({
      privateKey,
      listen: config.listen.map(listenAddr),
      muxers: config.muxers,
      gater: this.membership.gater(),
      networkKey: readNetworkKey(config.networkKeyFile)
    })
    await this.loadPeers()

    this.runner = new ActionRunner({
      actionsDir: config.actionsDir,
      timeoutMs: config.scriptTimeoutMs,
      log: log.child({ component: 'runner' }),
      onRun: (action, outcome, seconds) => {
        this.metrics.runs.inc({ action, outcome })
        this.metrics.runSeconds.observe({ action }, seconds)
      }
    })
    this.batcher = new Batcher({
      ...config.batch,
      publish: async events => {
        try {
          await this.host.services.pubsub.publish(TOPIC, encodeMessage(events))
        } catch (err) {
          // the ledger holds the events; catch-up delivers them when peers return
          log.warn({ err: (err as Error).message, events: events.length }, 'publish failed')
        }
      }
    })
    this.joinTopic()
    this.control = new ControlServer(config.controlSocket, config.controlGroup, req => this.handle(req), log.child({ component: 'control' }))
    await this.control.start()
    this.dialer = new Dialer({ host: this.host, membership: this.membership, ...config.redial, log: log.child({ component: 'dialer' }) })
    this.dialer.dialAll()
    this.sweeper = setInterval(() => this.sweepExpired(), EXPIRY_SWEEP_MS)
    if (config.reapplyOnStart) this.reapply()
    this.host.addEventListener('connection:open', () => this.metrics.peers.set(this.connectedPeers().length))
    this.host.addEventListener('connection:close', () => this.metrics.peers.set(this.connectedPeers().length))
    log.info({ peerId: this.peerId, listen: this.host.getMultiaddrs().map(String), peers: this.membership.others().length }, 'node started')
  }

  /** Reads sync-peers.txt (start and SIGHUP) and recomputes the never-ban list. */
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

  /** SIGHUP: re-read the peers file, drop peers no longer listed, dial new ones. */
  async reload (): Promise<void> {
    await this.loadPeers()
    for (const conn of this.host.getConnections()) {
      if (!this.membership.isMember(conn.remotePeer.toString())) await conn.close()
    }
    this.dialer.dialAll()
    this.log.info({ peers: this.membership.others().length }, 'peers file reloaded')
  }

  private joinTopic (): void {
    const pubsub = this.host.services.pubsub
    const validate = createMessageValidator({
      isMember: id => this.membership.isMember(id),
      guard: () => this.guard,
      freshness: this.config.freshness,
      rateLimiter: new RateLimiter(this.config.rateLimit.perSecond, this.config.rateLimit.burst)
    })
    let validated = 0
    pubsub.topicValidators.set(TOPIC, async (_from, msg) => {
      const verdict = validate(msg)
      // gossipsub works through one peer's buffered RPCs without returning to the event loop; yielding lets
      // other peers' messages in while one peer floods: always after a message over its origin's rate
      if ((verdict.result !== 'accept' && verdict.reason === 'rate_limited') || ++validated % 32 === 0) await yieldToEventLoop()
      this.metrics.messages.inc({ outcome: verdict.result })
      if (verdict.result === 'accept') {
        this.verdicts.set(msg, verdict)
        return TopicValidatorResult.Accept
      }
      this.metrics.rejected.inc({ reason: verdict.reason })
      this.throttle.warn(verdict.reason, { error: verdict.error, from: _from.toString() }, `message ${verdict.result}ed`)
      return verdict.result === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
    pubsub.addEventListener('message', evt => {
      const verdict = this.verdicts.get(evt.detail)
      if (verdict?.result === 'accept') this.receive(verdict.origin, verdict.events)
    })
    pubsub.subscribe(TOPIC)
  }

  /** Applies events from the mesh: only those that change the ledger's active state run scripts. */
  receive (origin: string, events: FstEvent[]): Change[] {
    this.lastHeard.set(origin, Date.now())
    const changes: Change[] = []
    for (const event of events) {
      if (this.quorum.admit(event, origin) === 'held') {
        this.metrics.held.inc({ action: event.action })
        continue
      }
      const change = this.ledger.apply(event, origin)
      if (change === null) continue
      changes.push(change)
      this.metrics.received.inc({ action: event.action })
    }
    this.run(changes, origin)
    return changes
  }

  private run (changes: Change[], origin: string): void {
    const byAction = new Map<string, FstEvent[]>()
    for (const c of changes) {
      if (c.isActive === c.wasActive) continue
      const list = byAction.get(c.entry.action) ?? []
      list.push(c.entry)
      byAction.set(c.entry.action, list)
    }
    for (const [action, events] of byAction) this.runner.enqueue({ action, events, origin })
    this.metrics.queueDepth.set(this.runner.pending)
  }

  /** A hook call: validate, refuse protected addresses, record durably, then publish. */
  async publish (input: Record<string, unknown>): Promise<ControlResponse> {
    const checked = validateInput(input)
    if (!checked.valid) return this.refuse(checked.reason, checked.error)
    const { removes } = actionFamily(checked.value.action)
    if (!removes) {
      const allowed = this.guard.check(checked.value.ip)
      if (!allowed.valid) return this.refuse(allowed.reason, allowed.error)
    }
    const event: FstEvent = { ...checked.value, time: Date.now() }
    const existing = this.ledger.get(ledgerKey(event))
    // Echo suppression: a ban we applied for the mesh comes back through fail2ban's hook; it changes nothing.
    if (existing !== undefined && isActive(existing) === !removes) {
      this.metrics.suppressed.inc({ action: event.action })
      return { ok: true, published: false }
    }
    const change = this.ledger.apply(event, this.peerId)
    if (change === null) return { ok: true, published: false }
    await change.written
    this.batcher.add(event)
    this.metrics.published.inc({ action: event.action })
    // our own report counts toward a quorum like any peer's
    const admitted = this.quorum.admit(event, this.peerId) === 'pass'
    if (this.config.runOwnEvents && admitted) this.run([change], this.peerId)
    return { ok: true, published: true, ip: event.ip, time: event.time }
  }

  private refuse (reason: string, error: string): ControlResponse {
    this.metrics.refused.inc({ reason })
    this.throttle.warn(reason, { error }, 'hook call refused')
    return { ok: false, code: reason, error }
  }

  /** Expired bans: every node unbans by itself; the origin also tells the mesh, as the original FST did. */
  private sweepExpired (): void {
    const expired = this.ledger.takeExpired()
    if (expired.length === 0) return
    const jobs = new Map<string, Job>()
    for (const entry of expired) {
      const action = `un${actionFamily(entry.action).family}`
      const unban: FstEvent = { ...entry, action, duration: 0 }
      const job = jobs.get(action) ?? { action, events: [], origin: entry.origin }
      job.events.push(unban)
      jobs.set(action, job)
      if (entry.origin === this.peerId) {
        const issued = { ...unban, time: Math.max(Date.now(), entry.time + 1) }
        this.ledger.apply(issued, this.peerId)
        this.batcher.add(issued)
      }
    }
    for (const job of jobs.values()) this.runner.enqueue(job)
  }

  /** On start: run the scripts again for what the ledger says is active (firewalls forget on reboot). */
  private reapply (): void {
    const byAction = new Map<string, LedgerEntry[]>()
    for (const entry of this.ledger.active()) {
      const list = byAction.get(entry.action) ?? []
      list.push(entry)
      byAction.set(entry.action, list)
    }
    for (const [action, events] of byAction) this.runner.enqueue({ action, events, origin: this.peerId })
  }

  connectedPeers (): string[] {
    return [...new Set(this.host.getConnections().map(c => c.remotePeer.toString()))]
  }

  status () {
    return {
      peerId: this.peerId,
      peers: this.connectedPeers(),
      meshPeers: this.host.services.pubsub.getSubscribers(TOPIC).map(String),
      listen: this.host.getMultiaddrs().map(String),
      ledger: { entries: this.ledger.size, active: this.ledger.active().length },
      queue: this.runner.pending
    }
  }

  peers () {
    const connected = new Set(this.connectedPeers())
    return this.membership.list().map(m => ({
      entry: m.entry.text,
      self: m.self,
      peerId: m.peerId ?? null,
      pinned: m.entry.peerId !== undefined ? 'file' : m.peerId !== undefined ? 'first-use' : 'none',
      addresses: m.addresses,
      connected: m.peerId !== undefined && connected.has(m.peerId),
      lastMessage: m.peerId === undefined ? null : (this.lastHeard.get(m.peerId) ?? null),
      // gossipsub peer score: falls with every message of this peer our validator Rejected
      score: m.peerId !== undefined && connected.has(m.peerId) ? peerScore(this.host, m.peerId) : null
    }))
  }

  private async handle (req: ControlRequest): Promise<ControlResponse> {
    switch (req.op) {
      case 'publish': return this.publish(req)
      case 'status': return { ok: true, ...this.status(), defences: await this.defenceCounts() }
      case 'peers': return { ok: true, peers: this.peers() }
      case 'list': return { ok: true, entries: this.ledger.active({ action: req.action, name: req.name, ip: req.ip }) }
      case 'repin': {
        if (typeof req.peer !== 'string' || !this.membership.repin(req.peer)) return { ok: false, code: 'not_found', error: `no first-use pin for ${typeof req.peer === 'string' ? JSON.stringify(req.peer.slice(0, 200)) : typeof req.peer}` }
        this.dialer.dialAll()
        return { ok: true }
      }
      default: return { ok: false, code: 'bad_request', error: `unknown op ${JSON.stringify((req as { op: unknown }).op)}` }
    }
  }

  /** Rejected mesh messages and refused hook calls by reason, and events held for a quorum (status). */
  private async defenceCounts () {
    const byReason = async (counter: { get(): Promise<{ values: Array<{ labels: Record<string, string | number | undefined>, value: number }> }> }) =>
      Object.fromEntries((await counter.get()).values.map(v => [String(v.labels.reason ?? v.labels.action), v.value]))
    return { rejected: await byReason(this.metrics.rejected), refused: await byReason(this.metrics.refused), held: await byReason(this.metrics.held) }
  }

  /** Waits until the runner has nothing queued (tests, drain). */
  async idle (): Promise<void> {
    await this.runner.idle()
  }

  /** Graceful stop: no new hook calls, publish what is pending, drain scripts (bounded), close the store. */
  async stop (): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper)
    this.sweeper = null
    await this.control?.stop()
    this.dialer?.stop()
    await this.batcher?.drain()
    await this.runner?.stop(DRAIN_MS)
    await this.host?.stop()
    await this.ledger?.close()
  }
}

function yieldToEventLoop (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

/** gossipsub 17's exported type lacks getScore, which the implementation has. */
function peerScore (host: Host, peerId: string): number {
  return (host.services.pubsub as unknown as { getScore(id: string): number }).getScore(peerId)
}
