import { join } from 'node:path'
import { encodeMessage, type FstEvent, type NodeStatus, type PeerRow, type SignedEntry } from '@fst/protocol'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { AppliedBans } from './actions/applied-bans.js'
import { Applier } from './actions/applier.js'
import { nodeRunner } from './actions/node-runner.js'
import type { ActionRunner } from './actions/runner.js'
import { nodeCatchup } from './catchup/node-catchup.js'
import type { Catchup } from './catchup/service.js'
import { catchupState } from './catchup/state.js'
import type { NodeConfig } from './config/config.js'
import { controlHandler } from './control/handlers.js'
import { ControlServer, resolveGroup } from './control/server.js'
import { nodeStatus, peerRows } from './control/views.js'
import { ExpirySweeper } from './ledger/expiry.js'
import { entriesCovering } from './ledger/query.js'
import { HeldReports } from './ledger/held.js'
import { openStore, prepareStore, type StoreName } from './ledger/open-store.js'
import { Ledger, type LedgerRefusal } from './ledger/store.js'
import { signOwnEntries } from './ledger/upgrade.js'
import { Batcher } from './mesh/batcher.js'
import { TOPIC } from './mesh/gossip-params.js'
import type { Host } from './mesh/host.js'
import { MeshPeer } from './mesh/peer.js'
import { Publisher } from './mesh/publisher.js'
import { Receiver } from './mesh/receiver.js'
import { HttpEndpoint, healthRoute, metricsRoute, routes } from './metrics/http.js'
import { LogThrottle } from './metrics/log-throttle.js'
import { createNodeMetrics, type NodeMetrics } from './metrics/metrics.js'
import type { Membership } from './trust/membership.js'
import { liftPolicy } from './trust/authority.js'
import { QuorumTracker } from './trust/quorum.js'
import { QuorumGate } from './trust/quorum-gate.js'
import { MemoryReducer } from './upstream/memory-reducer.js'
import { StateLock } from './state-lock.js'
import { SpoolDrainer } from './spool/drainer.js'
import type { IntegrationFactory, NodeIntegration } from './integrations.js'

export { TOPIC }
/** How long SIGTERM waits for queued scripts. */
const DRAIN_MS = 10_000
/** A wave of this many ledger changes, then this long without one, and the node gives the wave's heap back. */
const WAVE_CHANGES = 10_000
const WAVE_QUIET_MS = 2000
/** Traffic that never pauses for WAVE_QUIET_MS still gets one such collection per this period. */
const UPKEEP_MS = 5 * 60_000
const REFUSAL_MESSAGES: Record<LedgerRefusal | 'pull_limit', string> = {
  unban_not_authorized: 'entry refused: it would end a ban of another origin early (unbanAuthority)',
  origin_limit: 'entry refused: the origin holds limits.maxActivePerOrigin bans',
  removal_limit: 'entry refused: the origin holds limits.maxRemovalsPerOrigin newer removals',
  ledger_full: 'entry refused: the ledger holds limits.maxLedgerEntries keys',
  pull_limit: 'catch-up pull ended at limits.maxEntriesPerPull'
}
/** How often held quorum reports past their window are dropped. */
const HELD_PURGE_MS = 5000

/**
 * An FST node: composition and lifecycle of its parts. One ban's path: control socket → Publisher →
 * ledger → Batcher → gossipsub → every peer's validator → Receiver → ledger → Applier → ActionRunner.
 * Catch-up feeds the same Receiver; the ExpirySweeper turns expired bans into unbans. See docs/architecture.md.
 */
export class FstNode {
  readonly registry = new Registry()
  readonly metrics: NodeMetrics = createNodeMetrics(this.registry)
  ledger!: Ledger
  held!: HeldReports
  private readonly mesh: MeshPeer
  private readonly memory = new MemoryReducer({ minChanges: WAVE_CHANGES, quietMs: WAVE_QUIET_MS, upkeepMs: UPKEEP_MS, busy: () => this.runner?.pending > 0 })
  private runner!: ActionRunner
  private applied?: AppliedBans
  private batcher!: Batcher
  private receiver!: Receiver
  private publisher!: Publisher
  private expiry!: ExpirySweeper
  private control!: ControlServer
  private catchup: Catchup | null = null
  private metricsEndpoint: HttpEndpoint | null = null
  private heldPurger: NodeJS.Timeout | null = null
  private throttle!: LogThrottle
  private spool: SpoolDrainer | null = null
  /** Mesh messages this node signed and sent. */
  private published = 0
  private readonly lock: StateLock
  private ledgerOpen = false
  /** What runs beside the node (the CrowdSec integration, when the CLI starts the node), in start order. */
  private integrations: NodeIntegration[] = []

  constructor (readonly config: NodeConfig, private readonly log: Logger, private readonly integrationFactories: readonly IntegrationFactory[] = []) {
    this.mesh = new MeshPeer(config, log, reason => this.metrics.connectionsRefused.inc({ reason }))
    this.lock = new StateLock(config.stateDir)
  }

  get peerId (): string { return this.mesh.peerId }
  get host (): Host { return this.mesh.host }
  get membership (): Membership { return this.mesh.membership }

  async start (): Promise<void> {
    const { config, log, metrics } = this
    // before anything else: a second node on this state dir must fail before it opens the ledger or runs a script
    this.lock.acquire()
    // then what can fail on a setting, before anything is created or run
    if (config.controlGroup !== null) resolveGroup(config.controlGroup)
    if (config.metricsListen !== null) {
      const handler = routes(healthRoute(() => this.notReady()), metricsRoute(this.registry, () => this.sampleGauges()))
      this.metricsEndpoint = new HttpEndpoint(config.metricsListen, 'metricsListen', handler, log.child({ component: 'metrics' }))
      await this.metricsEndpoint.start()
    }
    const throttle = new LogThrottle(log)
    this.throttle = throttle
    const authority = config.unbanAuthority
    const removals = authority.mode === 'quorum' ? { peers: authority.peers, windowS: authority.windowS } : undefined
    const tracker = new QuorumTracker(config.quorum, Date.now, removals)
    // a socket path that cannot work fails here, before the ledger opens and scripts run (it is bound below,
    // once the node can answer; the socket answering is what tests and tools take for "started")
    await ControlServer.preflight(config.controlSocket)
    // a damaged store stops the start here (refuse), before the mesh is up, or is moved aside (rebuild)
    const stores = { onDamage: config.ledger.onDamage, log: log.child({ component: 'ledger' }), onDamaged: (file: StoreName, reason: string) => metrics.ledgerDamaged.inc({ file, reason }) }
    const ledgerDir = join(config.stateDir, 'ledger')
    const heldDir = join(config.stateDir, 'held')
    prepareStore('ledger', ledgerDir, stores)
    prepareStore('held', heldDir, stores)
    const appliedDir = join(config.stateDir, 'applied')
    prepareStore('applied', appliedDir, stores)
    await this.mesh.start(config.metricsListen === null ? null : this.registry)
    const mayLift = liftPolicy(authority)
    this.ledger = await openStore('ledger', ledgerDir, dir => Ledger.load(dir), stores)
    this.ledgerOpen = true
    const { limits } = config
    this.ledger.setRules({
      self: this.peerId,
      maxActivePerOrigin: limits.maxActivePerOrigin,
      maxRemovalsPerOrigin: limits.maxRemovalsPerOrigin,
      maxEntries: limits.maxLedgerEntries,
      mayEnd: mayLift,
      onEvicted: origin => {
        metrics.removalsEvicted.inc()
        throttle.warn('removal_evicted', { origin, max: limits.maxRemovalsPerOrigin }, 'an origin is past limits.maxRemovalsPerOrigin: its oldest removals are dropped')
      }
    })
    await this.ledger.prune(config.ledgerRetentionS * 1000)
    const signed = await signOwnEntries(this.ledger, this.peerId, entries => this.mesh.provenance.signBatch(entries).proofs)
    if (signed > 0) log.info({ signed, unproven: this.ledger.unproven.size }, 'signed own entries of a protocol v1 ledger')
    this.held = await openStore('held', heldDir, dir => HeldReports.load(dir), stores)
    const onRefused = (reason: LedgerRefusal, entry: SignedEntry) => this.refusedEntry(reason, entry.origin)
    const gate = tracker.active
      ? new QuorumGate({ tracker, held: this.held, self: this.peerId, maxHeldPerOrigin: config.limits.maxActivePerOrigin, onHeld: action => metrics.held.inc({ action }), onRefused })
      : null
    if (gate !== null) {
      const windowMs = (action: string) => (tracker.ruleOf(action)?.windowS ?? 0) * 1000
      this.held.purge(windowMs)
      this.heldPurger = setInterval(() => this.held.purge(windowMs), HELD_PURGE_MS)
    }

    const applied = await openStore('applied', appliedDir, dir => AppliedBans.load(dir), stores)
    this.applied = applied
    this.runner = nodeRunner(config, metrics, log.child({ component: 'runner' }), job => applied.ran(job))
    const applier = new Applier(this.runner, pending => metrics.queueDepth.set(pending))
    const apply = (changes: Parameters<Applier['run']>[0]) => applier.run(changes)
    const onChanges = (n: number) => this.memory.noteChanges(n)
    this.batcher = new Batcher({
      ...config.batch,
      sign: events => this.mesh.provenance.signBatch(events.map(e => ({ ...e, origin: this.peerId }))),
      publish: (events, s) => this.send(events, s)
    })
    this.receiver = new Receiver({ ledger: this.ledger, quorum: gate, onRefused, apply, metrics, throttle, onChanges })
    this.publisher = new Publisher({
      self: this.peerId,
      ledger: this.ledger,
      guard: () => this.mesh.guard,
      send: event => this.batcher.add(event),
      quorum: gate,
      mayLift,
      apply,
      runOwnEvents: config.runOwnEvents,
      defaultDurationS: config.defaultDurationS,
      metrics,
      throttle,
      onChanges
    })
    this.expiry = new ExpirySweeper({
      ledger: this.ledger,
      self: this.peerId,
      announce: event => {
        const proof = this.batcher.add(event)
        // an own ban's end withdraws this node's held report of it, as it does on every peer the tombstone reaches
        gate?.own(event, proof).written.catch((err: unknown) => log.warn({ err: (err as Error).message }, 'held report of an expired own ban not withdrawn'))
      },
      apply,
      runOwnEvents: config.runOwnEvents,
      // half the peers' freshness window, so the tombstone is still fresh when it arrives
      announceWithinMs: config.freshness.maxAgeS * 500,
      retentionMs: config.ledgerRetentionS * 1000
    })

    // before anything can arrive from peers: an entry caught up after this runs its scripts once, not twice.
    // Own entries only with runOwnEvents: otherwise fail2ban restores those itself.
    const ledger = this.ledger
    const resumed = applier.reconcile({
      active: ledger.active().filter(e => e.origin !== this.peerId || config.runOwnEvents),
      applied: applied.entries(),
      entryOf: key => ledger.get(key),
      reapplyAll: config.reapplyOnStart
    })
    if (!config.reapplyOnStart && resumed.bans + resumed.removals > 0) log.info(resumed, 'running the bans and removals whose scripts had not run when the node last stopped')
    // reports made while the node was down, in report order and with their report times, before any new
    // hook call can reach the control socket (a hook that finds it closed meanwhile spools, and is watched)
    this.spool = new SpoolDrainer({
      dir: config.spool.dir,
      publish: (input, reportedAt) => this.publisher.publish(input, reportedAt),
      metrics,
      log: log.child({ component: 'spool' })
    })
    this.spool.start()
    await this.spool.drain()
    this.mesh.joinTopic(this.receiver.onVerdict)
    this.catchup = nodeCatchup({
      config,
      host: this.host,
      ledger: this.ledger,
      held: this.held,
      membership: this.membership,
      self: this.peerId,
      guard: () => this.mesh.guard,
      provenance: this.mesh.provenance,
      apply: entries => this.receiver.applyCaughtUp(entries).length,
      metrics,
      onLimited: peer => this.refusedEntry('pull_limit', peer),
      log: log.child({ component: 'catchup' })
    })
    await this.catchup.start()
    this.control = new ControlServer(config.controlSocket, config.controlGroup, controlHandler({
      publish: input => this.publisher.publish(input),
      status: () => this.status(),
      peers: () => this.peers(),
      list: query => entriesCovering(this.ledger, query),
      repin: entry => {
        if (!this.membership.repin(entry)) return false
        this.mesh.dialAll()
        return true
      }
    }), log.child({ component: 'control' }))
    await this.control.start()
    this.mesh.dialAll()
    this.expiry.start()
    const countPeers = () => metrics.peers.set(this.mesh.connectedPeers().length)
    this.host.addEventListener('connection:open', countPeers)
    this.host.addEventListener('connection:close', countPeers)
    const context = { config, peerId: this.peerId, ledger: this.ledger, publish: (input: Record<string, unknown>) => this.publish(input), registry: this.registry, log }
    for (const make of this.integrationFactories) {
      const integration = make(context)
      if (integration === null) continue
      this.integrations.push(integration)
      await integration.start()
    }
    log.info({ peerId: this.peerId, listen: this.host.getMultiaddrs().map(String), peers: this.membership.others().length }, 'node started')
    // the start is a wave of its own (modules, config, the ledger read): its garbage goes back once it is quiet
    this.memory.noteWave()
  }

  /** An entry refused by a bound or the unban authority: counted, and logged at most a few times per 10 s. */
  private refusedEntry (reason: LedgerRefusal | 'pull_limit', origin: string, count = 1): void {
    this.metrics.entriesRefused.inc({ reason }, count)
    this.throttle.warn(reason, { origin, count }, REFUSAL_MESSAGES[reason])
  }

  /** One signed mesh message for a batch of events. A failure loses nothing: catch-up delivers from the ledger. */
  private async send (events: FstEvent[], s: string): Promise<void> {
    try {
      await this.host.services.pubsub.publish(TOPIC, encodeMessage(events, s))
      this.published++
    } catch (err) {
      this.log.warn({ err: (err as Error).message, events: events.length }, 'publish failed')
    }
  }

  /** SIGHUP: re-read the peers file, drop peers no longer listed, dial new ones. */
  async reload (): Promise<void> {
    await this.mesh.reload()
  }

  /** A hook call (the control socket's `publish`). */
  publish (input: Record<string, unknown>) {
    return this.publisher.publish(input)
  }

  /** Gauges read at scrape time rather than kept up to date on every change. */
  private sampleGauges (): void {
    // the endpoint starts before the ledger and the runner (a busy port fails first): a scrape may come early
    if (this.runner === undefined || !this.ledgerOpen) return
    this.metrics.queueDepth.set(this.runner.pending)
    this.metrics.activeEntries.set(this.ledger.active().length)
  }

  connectedPeers (): string[] {
    return this.mesh.connectedPeers()
  }

  /** Why the node is not ready (/readyz): empty when the ledger is open and at least one peer is connected. */
  notReady (): string[] {
    // the endpoint answers from the start on, before the host and the ledger exist
    if (this.mesh.host === undefined || !this.ledgerOpen) return ['ledger not open (starting or stopping)']
    const problems: string[] = []
    if (this.connectedPeers().length === 0) problems.push(`no peer connected (of ${this.membership.others().length} in ${this.config.peersFile})`)
    return problems
  }

  async status (): Promise<NodeStatus> {
    return nodeStatus({
      peerId: this.peerId,
      peers: this.connectedPeers(),
      host: this.host,
      ledger: { entries: this.ledger.size, active: this.ledger.active().length, held: this.held.size, root: catchupState(this.ledger, this.held).root() },
      queue: this.runner.pending,
      spool: { depth: this.spool?.depth ?? 0 },
      messages: { published: this.published, accepted: this.receiver.accepted, suppressed: this.publisher.suppressed },
      catchup: { applied: this.receiver.caughtUp },
      collections: this.memory.collections,
      metrics: this.metrics
    })
  }

  peers (): PeerRow[] {
    return peerRows({
      self: this.peerId,
      members: this.membership.list(),
      connected: new Set(this.connectedPeers()),
      lastHeard: this.receiver.lastHeard,
      score: id => this.mesh.upstream.score(id),
      keyChange: entry => this.membership.keyChange(entry)
    })
  }

  /** Waits until the runner has nothing queued (tests, drain). */
  async idle (): Promise<void> {
    await this.runner.idle()
  }

  /** Graceful stop: no new hook calls, publish what is pending, drain scripts (bounded), close the store. */
  async stop (): Promise<void> {
    this.expiry?.stop()
    if (this.heldPurger !== null) clearInterval(this.heldPurger)
    this.memory.stop()
    for (const integration of this.integrations.splice(0).reverse()) await integration.stop()
    await this.control?.stop()
    await this.spool?.stop()
    await this.metricsEndpoint?.stop()
    this.mesh.stopDialing()
    await this.catchup?.stop()
    this.receiver?.stop()
    await this.batcher?.drain()
    await this.runner?.stop(DRAIN_MS)
    await this.applied?.close()
    await this.mesh.stop()
    await this.catchup?.settled()
    this.ledgerOpen = false
    await this.ledger?.close()
    await this.held?.close()
    this.lock.release()
  }
}
