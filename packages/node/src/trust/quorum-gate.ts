import { actionFamily, type EntryProof, type FstEvent, type SignedEntry } from '@fst/protocol'
import { heldKey, type HeldReports } from '../ledger/held.js'
import type { LedgerRefusal } from '../ledger/store.js'
import type { QuorumTracker, QuorumVerdict } from './quorum.js'

export interface QuorumGateInit {
  tracker: QuorumTracker
  held: HeldReports
  /** This node: its own reports are not bounded. */
  self: string
  /** Most reports one other origin may have held (config `limits.maxActivePerOrigin`). */
  maxHeldPerOrigin: number
  onHeld: (action: string) => void
  onRefused: (reason: LedgerRefusal, entry: SignedEntry) => void
  now?: () => number
}

/**
 * The quorum between receipt and the ledger: a report of an action with a rule is stored with its proof
 * (ledger/held.ts) and counted (trust/quorum.ts); it reaches the ledger once enough distinct peers made it.
 * Mesh and catch-up entries arrive here verified; this node's own reports come from the publisher.
 */
export class QuorumGate {
  private readonly now: () => number

  constructor (private readonly init: QuorumGateInit) {
    this.now = init.now ?? Date.now
    // a restart keeps what was held: the tracker counts the stored reports again
    for (const e of init.held.values()) init.tracker.admit(e, e.origin)
  }

  get active (): boolean {
    return this.init.tracker.active
  }

  /** Whether a received, verified entry may enter the ledger now; if not, it is held (or refused). */
  admit (e: SignedEntry): boolean {
    const { held, tracker } = this.init
    if (actionFamily(e.action).removes) held.withdraw(e)
    const rule = tracker.ruleOf(e.action)
    if (rule === undefined) {
      tracker.admit(e, e.origin)
      return true
    }
    // only reports inside the window are kept: every node drops the same ones at the same time
    let stored = false
    if (e.time >= this.now() - rule.windowS * 1000) {
      if (e.origin !== this.init.self && !held.has(heldKey(e)) && held.countOf(e.origin) >= this.init.maxHeldPerOrigin) {
        this.init.onRefused('origin_limit', e)
        return false
      }
      stored = held.put(e) !== null
    }
    if (tracker.admit(e, e.origin) === 'pass') return true
    // counted once per report, however often gossip and catch-up bring it
    if (stored) this.init.onHeld(e.action)
    return false
  }

  /**
   * Whether this node holds its own report of the event's action and address, inside the window, while the
   * quorum is not reached: a repeat then adds nothing. Once it is reached, a new report is a new ban (the
   * first one expired, say) and goes out like any other.
   */
  holdsOwn (event: FstEvent): boolean {
    const { held, tracker, self } = this.init
    const rule = tracker.ruleOf(event.action)
    if (rule === undefined) return false
    const own = held.get(heldKey({ ...event, origin: self }))
    return own !== undefined && own.time >= this.now() - rule.windowS * 1000 && !tracker.reached(event)
  }

  /**
   * This node's own report (the hook, or the announcement of an own ban's expiry). 'pass': it goes to the
   * ledger; 'held': it waits for the quorum. Either way it is kept as peers keep it when it reaches them
   * (`admit`): a removal withdraws this node's earlier report, and a report of an action with a rule is held
   * for the window, also the one that completes the quorum, or this node alone would lack it and its root
   * would differ until a pull. Done once its proof exists, that is once it was sent: a report the publisher
   * drops changes no held report. `written` resolves when that is durable.
   */
  own (event: FstEvent, proof: Promise<EntryProof>): { verdict: QuorumVerdict, written: Promise<unknown> } {
    const { held, tracker, self } = this.init
    const entry = { ...event, origin: self }
    const rule = tracker.ruleOf(event.action)
    const verdict = tracker.admit(event, self)
    if (verdict === 'held') this.init.onHeld(event.action)
    const removes = actionFamily(event.action).removes
    const within = rule !== undefined && event.time >= this.now() - rule.windowS * 1000
    const written = proof.then(p => {
      if (removes) held.withdraw(entry)
      return within ? held.put({ ...entry, proof: p }) : undefined
    })
    return { verdict, written }
  }
}
