import { actionFamily, type AddressGuard, type ControlResponse, type EntryProof, type FstEvent, isActive, type LedgerEntry, ledgerKey, validateInput } from '@fst/protocol'
import type { Change, Ledger } from '../ledger/store.js'
import type { QuorumGate } from '../trust/quorum-gate.js'
import type { LogThrottle } from '../metrics/log-throttle.js'
import type { NodeMetrics } from '../metrics/metrics.js'

export interface PublisherInit {
  /** This node's peer ID: the origin of what it publishes. */
  self: string
  ledger: Pick<Ledger, 'get' | 'apply'>
  /** The never-ban list of the moment (it changes when sync-peers.txt is re-read). */
  guard: () => AddressGuard
  /** Hands an event to the mesh (the batcher); resolves with its proof once its batch is signed. */
  send: (event: FstEvent) => Promise<EntryProof>
  /** The quorum, or null when no action needs one. */
  quorum: Pick<QuorumGate, 'own' | 'holdsOwn'> | null
  /** Unban authority: whether a report of this node may end a ban of another origin (trust/authority.ts). */
  mayLift: (lifter: LedgerEntry, ban: LedgerEntry) => boolean
  /** Runs the scripts of changes (the applier); used only with runOwnEvents. */
  apply: (changes: Change[]) => void
  runOwnEvents: boolean
  /** Duration given to a ban reported without one (config `defaultDurationS`). @default 0 */
  defaultDurationS?: number
  metrics: Pick<NodeMetrics, 'published' | 'suppressed' | 'refused'>
  throttle: Pick<LogThrottle, 'warn' | 'info'>
  onChanges?: (count: number) => void
  now?: () => number
}

/**
 * The hook's use case: validate a report, refuse protected addresses, record it durably, then publish it.
 * The hook's answer waits for the ledger's commit, so an exit 0 means the ban survives a crash.
 */
export class Publisher {
  /** Hook calls that changed nothing (echoes of received events, repeats). */
  suppressed = 0
  private readonly now: () => number

  constructor (private readonly init: PublisherInit) {
    this.now = init.now ?? Date.now
  }

  /**
   * `reportedAt`: a report made earlier (the spool), which keeps its time: it loses to anything newer the
   * ledger holds, and a ban whose duration has run out by now is recorded as expired (`expired: true`),
   * not published.
   */
  async publish (input: Record<string, unknown>, reportedAt?: number): Promise<ControlResponse> {
    const { init } = this
    // a request read after its client gave up (a stalled node): the client has spooled the report, and taking
    // it up as well would publish it twice, the second time after anything that came between (docs/cli.md).
    // The spooled copy itself keeps its report time, so it can never land after a later report.
    if (reportedAt === undefined && input.deadline !== undefined) {
      if (typeof input.deadline !== 'number' || !Number.isSafeInteger(input.deadline)) return this.refuse('bad_request', 'deadline must be whole milliseconds since the epoch')
      if (this.now() > input.deadline) return this.refuse('deadline_passed', 'the request waited past its deadline; the client has queued the report in its spool')
    }
    const checked = validateInput(input)
    if (!checked.valid) return this.refuse(checked.reason, checked.error)
    const { removes } = actionFamily(checked.value.action)
    // no duration given (a hand call, a tool without bantime): the configured default, not forever
    if (input.duration === undefined && !removes) checked.value.duration = init.defaultDurationS ?? 0
    if (!removes) {
      const allowed = init.guard().check(checked.value.ip)
      if (!allowed.valid) return this.refuse(allowed.reason, allowed.error)
    }
    const existing = init.ledger.get(ledgerKey(checked.value))
    const now = this.now()
    // later than what the ledger holds, so a quick unban-then-ban (or a peer's clock ahead) is not lost;
    // a spooled report keeps its own time (never ahead of now), so the ledger orders it among the others
    const time = reportedAt === undefined ? Math.max(now, (existing?.time ?? 0) + 1) : Math.min(reportedAt, now)
    const event: FstEvent = { ...checked.value, time }
    if (reportedAt !== undefined && !removes && !isActive({ ...event, origin: init.self }, now)) return { ok: true, published: false, expired: true }
    // echo suppression: a ban we applied for the mesh comes back through fail2ban's hook; it changes nothing.
    // A report we already hold for a quorum is still one report.
    if ((existing !== undefined && isActive(existing, now) === !removes) || init.quorum?.holdsOwn(event) === true) {
      init.metrics.suppressed.inc({ action: event.action })
      this.suppressed++
      return { ok: true, published: false }
    }
    if (removes && existing !== undefined && existing.origin !== init.self) {
      // the twin of echo suppression: the local firewall (a jail's own shorter bantime) lifting a ban this node
      // received is a local event, not the fleet's unban; only a deliberate `fst unban` speaks for the fleet
      if (input.manual !== true) {
        init.metrics.suppressed.inc({ action: event.action })
        this.suppressed++
        init.throttle.info('local_unban', { action: event.action, name: event.name, ip: event.ip, origin: existing.origin }, 'a local unban of a ban received from another origin stays local (not published)')
        return { ok: true, published: false, local: true }
      }
      // peers would refuse it; saying so here tells the administrator where to unban (the ban's origin)
      if (!init.mayLift({ ...event, origin: init.self }, existing)) {
        return this.refuse('unban_not_authorized', `this server may not lift a ban issued by ${existing.origin} (unbanAuthority: origin): run \`fst unban\` on the server that issued it (\`fst peers\` names it), or list this server's ID (\`fst id\`) in unbanAuthority.admins and use mode admins`)
      }
    }
    let proofOf!: (proof: Promise<EntryProof>) => void
    const proof = new Promise<EntryProof>(resolve => { proofOf = p => { void p.then(resolve) } })
    // our own report counts toward a quorum like any peer's; until it is reached it is held, not in the ledger
    const gate = init.quorum?.own(event, proof)
    if (gate?.verdict === 'held') {
      proofOf(init.send(event))
      await gate.written
      init.metrics.published.inc({ action: event.action })
      init.throttle.info('published', { action: event.action, name: event.name, ip: event.ip, duration: event.duration, held: true }, 'published a local report')
      return { ok: true, published: true, ip: event.ip, time: event.time, duration: event.duration }
    }
    const change = init.ledger.apply(event, init.self, now, proof)
    if (change === null) return { ok: true, published: false }
    init.onChanges?.(1)
    // peers get the event while the store commits; the hook's answer waits for the commit (after signing),
    // and for the held copy of a report that completed a quorum
    proofOf(init.send(event))
    await Promise.all([change.written, gate?.written])
    init.metrics.published.inc({ action: event.action })
    init.throttle.info('published', { action: event.action, name: event.name, ip: event.ip, duration: event.duration }, 'published a local report')
    if (init.runOwnEvents) init.apply([change])
    return { ok: true, published: true, ip: event.ip, time: event.time, duration: event.duration }
  }

  private refuse (reason: string, error: string): ControlResponse {
    this.init.metrics.refused.inc({ reason })
    this.init.throttle.warn(reason, { error }, 'hook call refused')
    return { ok: false, code: reason, error }
  }
}
