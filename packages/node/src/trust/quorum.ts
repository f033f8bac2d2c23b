import { actionFamily, type FstEvent } from '@fst/protocol'

/** Per action: how many distinct peers must report the same address, within how many seconds. */
export interface QuorumRule {
  /** Distinct reporting peers needed before the action runs. @default 1 */
  peers: number
  /** Reports older than this no longer count. */
  windowS: number
}

/** Addresses tracked at once; past this the oldest are forgotten (a flood of distinct addresses stays bounded). */
export const MAX_TRACKED_ADDRESSES = 100_000

export type QuorumVerdict = 'pass' | 'held'

/**
 * "Ban only after k distinct peers reported the same address within a window". A single listed peer gone rogue
 * can then ban nothing by itself: its reports are held until k - 1 other peers report the same address.
 * Actions without a rule (and removing actions such as `unban`, unless they have a rule) always pass.
 * Every node sees every report, so every node reaches the same decision.
 */
export class QuorumTracker {
  /** `action|ip` → reporter → time of its latest report (ms). */
  private readonly reports = new Map<string, Map<string, number>>()

  /**
   * @param rules per action
   * @param removals a rule for every removing action without its own (`unbanAuthority: quorum`)
   */
  constructor (private readonly rules: Readonly<Record<string, QuorumRule>>, private readonly now = Date.now, private readonly removals?: QuorumRule) {}

  /** Whether any action needs more than one reporter. */
  get active (): boolean {
    return Object.values(this.rules).some(r => r.peers > 1) || (this.removals?.peers ?? 1) > 1
  }

  /** The rule of an action, if it needs more than one reporter. */
  ruleOf (action: string): QuorumRule | undefined {
    const rule = this.rules[action] ?? (actionFamily(action).removes ? this.removals : undefined)
    return rule !== undefined && rule.peers > 1 ? rule : undefined
  }

  /**
   * Records one peer's report and answers whether its action may run now. An event whose action removes
   * (`unban`) withdraws that peer's report of the address for the family it undoes. Callers hand in only
   * reports whose origin's proof was verified (mesh/validator.ts, catchup/wire.ts), or this node's own.
   * Reports stay counted after a quorum is reached, for the window: later reports of the address pass, and
   * the count is the same function of the held reports on every node (ledger/held.ts).
   */
  admit (event: FstEvent, reporter: string): QuorumVerdict {
    const { family, removes } = actionFamily(event.action)
    if (removes) this.withdraw(family, event.ip, reporter)
    const rule = this.ruleOf(event.action)
    if (rule === undefined) return 'pass'
    const key = `${event.action}|${event.ip}`
    const now = this.now()
    const since = now - rule.windowS * 1000
    let reporters = this.reports.get(key)
    if (reporters === undefined) {
      reporters = new Map()
      if (this.reports.size >= MAX_TRACKED_ADDRESSES) this.evictOldest()
      this.reports.set(key, reporters)
    }
    // a report carries its issue time; one from the future counts from now
    reporters.set(reporter, Math.min(event.time, now))
    for (const [peer, at] of reporters) if (at < since) reporters.delete(peer)
    return reporters.size >= rule.peers ? 'pass' : 'held'
  }

  /** Whether the event's action and address have their quorum now, without recording a report. */
  reached (event: Pick<FstEvent, 'action' | 'ip'>): boolean {
    const rule = this.ruleOf(event.action)
    if (rule === undefined) return true
    const since = this.now() - rule.windowS * 1000
    let count = 0
    for (const at of this.reports.get(`${event.action}|${event.ip}`)?.values() ?? []) if (at >= since) count++
    return count >= rule.peers
  }

  /** Addresses with reports waiting for a quorum (status, tests). */
  get pending (): number {
    return this.reports.size
  }

  private withdraw (family: string, ip: string, reporter: string): void {
    const key = `${family}|${ip}`
    const reporters = this.reports.get(key)
    if (reporters === undefined) return
    reporters.delete(reporter)
    if (reporters.size === 0) this.reports.delete(key)
  }

  private evictOldest (): void {
    const oldest = this.reports.keys().next()
    if (oldest.done !== true) this.reports.delete(oldest.value)
  }
}
