import { join } from 'node:path'
import { actionFamily, type ControlRequest, type ControlResponse, encodeMessage, type FstEvent, validateInput } from '@fst/protocol'
import { Catchup } from './catchup/service.js'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { Batcher } from './batcher.js'
import type { NodeConfig } from './config.js'
import { ControlServer } from './control-server.js'
import { TOPIC } from './gossip-params.js'
import type { Host } from './host.js'
import { type Change, isActive, Ledger, type LedgerEntry, ledgerKey, prunable } from './ledger.js'
import { entriesCovering } from './ledger-query.js'
import type { Membership } from './membership.js'
import { MeshPeer } from './mesh-peer.js'
import { createNodeMetrics, type NodeMetrics } from './metrics.js'
import { createLauncher } from './launch/index.js'
import { type CrowdsecIntegration, crowdsecIntegration } from './crowdsec/index.js'
import { HttpEndpoint, metricsRoute } from './metrics-server.js'
import { LogThrottle } from './log-throttle.js'
import { MemoryReducer } from './memory-reducer.js'
import { QuorumTracker } from './quorum.js'
import { ActionRunner, type Job } from './runner.js'
import type { MessageVerdict } from './validator.js'

export { TOPIC }
/** How often expired bans are looked for. */
const EXPIRY_SWEEP_MS = 200
/** How long SIGTERM waits for queued scripts. */
const DRAIN_MS = 10_000
/** How often tombstones past the retention are pruned. */
const PRUNE_MS = 3600_000
/** A wave of this many ledger changes, then this long without one, and the node gives the wave's heap back. */
const WAVE_CHANGES = 10_000
const WAVE_QUIET_MS = 2000

/**
 * An FST node: the libp2p host on the mesh, the control socket the hook talks to, the ledger, and the
 * runner that applies received events. One ban's path: `publish()` → ledger → batcher → gossipsub →
 * every peer's validator → `receive()` → ledger → runner.
 */
export class FstNode {
  readonly registry = new Registry()
  readonly metrics: NodeMetrics = createNodeMetrics(this.registry)
  ledger!: Ledger
  private readonly mesh: MeshPeer
  private runner!: ActionRunner
  private batcher!: Batcher
  private control!: ControlServer
  private sweeper: NodeJS.Timeout | null = null
  private pruner: NodeJS.Timeout | null = null
  private catchup: Catchup | null = null
  private stopping = false
  private metricsEndpoint: HttpEndpoint | null = null
  /** CrowdSec decisions endpoint and source, when configured (crowdsec/). */
  crowdsec: CrowdsecIntegration | null = null
  private readonly verdicts = new WeakMap<object, MessageVerdict>()
  private readonly lastHeard = new Map<string, number>()
  private quorum!: QuorumTracker
  private throttle!: LogThrottle
  private readonly memory = new MemoryReducer({ minChanges: WAVE_CHANGES, quietMs: WAVE_QUIET_MS })
  /** Mesh messages this node signed and sent, valid ones accepted from others, and hook calls that changed nothing (echoes). */
  private readonly messageCounts = { published: 0, accepted: 0, suppressed: 0 }

  constructor (readonly config: NodeConfig, private readonly log: Logger) {
    this.mesh = new MeshPeer(config, log)
  }

  get peerId (): string { return this.mesh.peerId }
  get host (): Host { return this.mesh.host }
  get membership (): Membership { return this.mesh.membership }

  async start (): Promise<void> {
    const { config, log } = this
    this.quorum = new QuorumTracker(config.quorum)
    this.throttle = new LogThrottle(log)
    await this.mesh.start(config.metricsListen === null ? null : this.registry)
    this.ledger = Ledger.open(join(config.stateDir, 'ledger'))
    await this.ledger.prune(config.ledgerRetentionS * 1000)

    const runnerLog = log.child({ component: 'runner' })
    this.runner = new ActionRunner({
      launcher: createLauncher(runnerLog, config.scriptLauncher),
      actionsDir: config.actionsDir,
      timeoutMs: config.scriptTimeoutMs,
      extraEnv: config.scriptEnv,
      log: runnerLog,
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
          this.messageCounts.published++
        } catch (err) {
          // the ledger holds the events; catch-up delivers them when peers return
          log.warn({ err: (err as Error).message, events: events.length }, 'publish failed')
        }
      }
    })
    // before anything can arrive from peers: an entry caught up after this runs its scripts once, not twice
    if (config.reapplyOnStart) this.reapply()
    this.joinTopic()
    this.catchup = new Catchup({
      host: this.host,
      ledger: this.ledger,
      isMember: id => this.membership.isMember(id),
      policy: () => ({
        isMember: id => this.membership.isMember(id),
        self: this.peerId,
        guard: this.mesh.guard,
        maxTime: Date.now() + config.freshness.maxSkewS * 1000,
        isPrunable: e => prunable(e, config.ledgerRetentionS * 1000)
      }),
      apply: entries => this.applyEntries(entries).length,
      intervalMs: config.catchup.intervalS * 1000,
      timeoutMs: config.catchup.timeoutS * 1000,
      log: log.child({ component: 'catchup' }),
      onPull: (outcome, result) => {
        this.metrics.catchupPulls.inc({ outcome })
        if (result === undefined) return
        this.metrics.catchupEntries.inc({ outcome: 'applied' }, result.applied)
        this.metrics.catchupEntries.inc({ outcome: 'unchanged' }, result.received - result.applied - Object.values(result.refused).reduce((a, b) => a + b, 0))
        for (const [reason, n] of Object.entries(result.refused)) this.metrics.catchupEntries.inc({ outcome: reason }, n)
      }
    })
    await this.catchup.start()
    this.control = new ControlServer(config.controlSocket, config.controlGroup, req => this.handle(req), log.child({ component: 'control' }))
    await this.control.start()
    this.mesh.dialAll()
    this.sweeper = setInterval(() => this.sweepExpired(), EXPIRY_SWEEP_MS)
    this.pruner = setInterval(() => { void this.ledger.prune(config.ledgerRetentionS * 1000) }, PRUNE_MS)
    this.host.addEventListener('connection:open', () => this.metrics.peers.set(this.connectedPeers().length))
    this.host.addEventListener('connection:close', () => this.metrics.peers.set(this.connectedPeers().length))
    if (config.metricsListen !== null) {
      this.metricsEndpoint = new HttpEndpoint(config.metricsListen, 'metricsListen', metricsRoute(this.registry, () => this.sampleGauges()), log.child({ component: 'metrics' }))
      await this.metricsEndpoint.start()
    }
    this.crowdsec = crowdsecIntegration({ config: config.crowdsec, stateDir: config.stateDir, peerId: this.peerId, ledger: () => this.ledger, publish: input => this.publish(input), registry: this.registry, log })
    await this.crowdsec?.start()
    log.info({ peerId: this.peerId, listen: this.host.getMultiaddrs().map(String), peers: this.membership.others().length }, 'node started')
  }

  /** Reads sync-peers.txt (start and SIGHUP) and recomputes the never-ban list. */
  async loadPeers (): Promise<void> {
    await this.mesh.loadPeers()
  }

  /** SIGHUP: re-read the peers file, drop peers no longer listed, dial new ones. */
  async reload (): Promise<void> {
    await this.mesh.reload()
  }

  private joinTopic (): void {
    this.host.services.pubsub.addEventListener('message', evt => {
      const verdict = this.verdicts.get(evt.detail)
      if (verdict?.result === 'accept') this.receive(verdict.origin, verdict.events)
    })
    let validated = 0
    this.mesh.joinTopic(async (verdict, msg, from) => {
      // gossipsub works through one peer's buffered RPCs without returning to the event loop; yielding lets
      // other peers' messages in while one peer floods: always after a message over its origin's rate
      if ((verdict.result !== 'accept' && verdict.reason === 'rate_limited') || ++validated % 32 === 0) await yieldToEventLoop()
      this.metrics.messages.inc({ outcome: verdict.result })
      if (verdict.result === 'accept') {
        this.verdicts.set(msg, verdict)
        this.messageCounts.accepted++
        return
      }
      this.metrics.rejected.inc({ reason: verdict.reason })
      this.throttle.warn(verdict.reason, { error: verdict.error, from: from.toString() }, `message ${verdict.result === 'reject' ? 'rejected' : 'ignored'}`)
    })
  }

  /** Applies events from the mesh: only those that change the ledger's active state run scripts. */
  receive (origin: string, events: FstEvent[]): Change[] {
    this.lastHeard.set(origin, Date.now())
    return this.applyEntries(events.map(e => ({ ...e, origin })))
  }

  /** Applies validated entries (mesh or catch-up) and runs scripts for those whose active state changed. */
  applyEntries (entries: LedgerEntry[]): Change[] {
    if (this.stopping) return []
    // a report held for a quorum stays out of the ledger until enough distinct peers made it
    const admitted = this.quorum.active ? entries.filter(e => this.admitReport(e, e.origin)) : entries
    const changes = this.ledger.applyMany(admitted)
    this.memory.noteChanges(changes.length)
    for (const c of changes) this.metrics.received.inc({ action: c.entry.action })
    this.run(changes)
    return changes
  }

  /** Queues the scripts of every change that bans or unbans, one job per action and origin. */
  private run (changes: Change[]): void {
    const jobs = new Map<string, Job>()
    for (const c of changes) {
      // a removal of something not active here (never seen, or expired) has nothing to undo
      if (c.isActive === c.wasActive) continue
      const action = c.isActive ? c.entry.action : `un${actionFamily(c.entry.action).family}`
      const id = `${action} ${c.entry.origin}`
      const job = jobs.get(id) ?? { action, events: [], origin: c.entry.origin }
      job.events.push(c.entry)
      jobs.set(id, job)
    }
    for (const job of jobs.values()) this.runner.enqueue(job)
    this.metrics.queueDepth.set(this.runner.pending)
  }

  /** A hook call: validate, refuse protected addresses, record durably, then publish. */
  async publish (input: Record<string, unknown>): Promise<ControlResponse> {
    const checked = validateInput(input)
    if (!checked.valid) return this.refuse(checked.reason, checked.error)
    const { removes } = actionFamily(checked.value.action)
    if (!removes) {
      const allowed = this.mesh.guard.check(checked.value.ip)
      if (!allowed.valid) return this.refuse(allowed.reason, allowed.error)
    }
    const key = ledgerKey(checked.value)
    const existing = this.ledger.get(key)
    // later than what the ledger holds, so a quick unban-then-ban (or a peer's clock ahead) is not lost
    const event: FstEvent = { ...checked.value, time: Math.max(Date.now(), (existing?.time ?? 0) + 1) }
    // Echo suppression: a ban we applied for the mesh comes back through fail2ban's hook; it changes nothing.
    if (existing !== undefined && isActive(existing) === !removes) {
      this.metrics.suppressed.inc({ action: event.action })
      this.messageCounts.suppressed++
      return { ok: true, published: false }
    }
    const change = this.ledger.apply(event, this.peerId)
    if (change === null) return { ok: true, published: false }
    this.memory.noteChanges(1)
    // peers get the event while the store commits; the hook's answer waits for the commit
    this.batcher.add(event)
    await change.written
    this.metrics.published.inc({ action: event.action })
    // our own report counts toward a quorum like any peer's
    const admitted = this.admitReport(event, this.peerId)
    if (this.config.runOwnEvents && admitted) this.run([change])
    return { ok: true, published: true, ip: event.ip, time: event.time }
  }

  private admitReport (event: FstEvent, reporter: string): boolean {
    if (this.quorum.admit(event, reporter) === 'pass') return true
    this.metrics.held.inc({ action: event.action })
    return false
  }

  private refuse (reason: string, error: string): ControlResponse {
    this.metrics.refused.inc({ reason })
    this.throttle.warn(reason, { error }, 'hook call refused')
    return { ok: false, code: reason, error }
  }

  /**
   * Expired bans: every node replaces the ban with the same tombstone and unbans by itself; the origin also
   * tells the mesh, as the original FST did (unless the tombstone is too old for the peers' freshness check).
   */
  private sweepExpired (): void {
    const expired = this.ledger.expire()
    if (expired.length === 0) return
    const changes: Change[] = []
    const fresh = Date.now() - this.config.freshness.maxAgeS * 500
    for (const { tombstone } of expired) {
      const own = tombstone.origin === this.peerId
      if (own && tombstone.time > fresh) {
        const { origin: _origin, ...event } = tombstone
        this.batcher.add(event)
      }
      if (!own || this.config.runOwnEvents) changes.push({ entry: tombstone, wasActive: true, isActive: false, written: Promise.resolve() })
    }
    this.run(changes)
  }

  /**
   * On start: run the scripts again for what the ledger says is active (firewalls forget on reboot). Own
   * entries only with runOwnEvents: otherwise fail2ban restores those itself.
   */
  private reapply (): void {
    const active = this.ledger.active().filter(e => e.origin !== this.peerId || this.config.runOwnEvents)
    this.run(active.map(entry => ({ entry, wasActive: false, isActive: true, written: Promise.resolve() })))
  }

  /** Gauges read at scrape time rather than kept up to date on every change. */
  private sampleGauges (): void {
    this.metrics.queueDepth.set(this.runner.pending)
    this.metrics.activeEntries.set(this.ledger.active().length)
  }

  connectedPeers (): string[] {
    return this.mesh.connectedPeers()
  }

  status () {
    return {
      peerId: this.peerId,
      peers: this.connectedPeers(),
      meshPeers: this.host.services.pubsub.getSubscribers(TOPIC).map(String),
      gossipPeers: this.host.services.pubsub.getPeers().length,
      connections: this.host.getConnections().length,
      listen: this.host.getMultiaddrs().map(String),
      ledger: { entries: this.ledger.size, active: this.ledger.active().length },
      queue: this.runner.pending,
      messages: { ...this.messageCounts }
    }
  }

  peers () {
    const connected = new Set(this.connectedPeers())
    return this.membership.list().map(m => ({
      entry: m.entry.text,
      self: m.self,
      // the self row shows this node's own ID even when the entry pins none
      peerId: m.self ? this.peerId : (m.peerId ?? null),
      pinned: m.entry.peerId !== undefined ? 'file' : m.self ? 'self' : m.peerId !== undefined ? 'first-use' : 'none',
      addresses: m.addresses,
      connected: m.peerId !== undefined && connected.has(m.peerId),
      lastMessage: m.peerId === undefined ? null : (this.lastHeard.get(m.peerId) ?? null),
      // gossipsub peer score: falls with every message of this peer our validator Rejected
      score: !m.self && m.peerId !== undefined && connected.has(m.peerId) ? peerScore(this.host, m.peerId) : null
    }))
  }

  private async handle (req: ControlRequest): Promise<ControlResponse> {
    switch (req.op) {
      case 'publish': return this.publish(req)
      case 'status': return { ok: true, ...this.status(), defences: await this.defenceCounts() }
      case 'peers': return { ok: true, peers: this.peers() }
      case 'list': return { ok: true, entries: entriesCovering(this.ledger, req) }
      case 'repin': {
        if (typeof req.peer !== 'string' || !this.membership.repin(req.peer)) return { ok: false, code: 'not_found', error: `no first-use pin for ${typeof req.peer === 'string' ? JSON.stringify(req.peer.slice(0, 200)) : typeof req.peer}` }
        this.mesh.dialAll()
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
    if (this.pruner !== null) clearInterval(this.pruner)
    this.sweeper = null
    this.pruner = null
    this.memory.stop()
    await this.crowdsec?.stop()
    await this.control?.stop()
    await this.metricsEndpoint?.stop()
    this.mesh.stopDialing()
    await this.catchup?.stop()
    // from here on nothing enters the ledger whose scripts could not run; catch-up brings it after restart
    this.stopping = true
    await this.batcher?.drain()
    await this.runner?.stop(DRAIN_MS)
    await this.mesh.stop()
    await this.catchup?.settled()
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
