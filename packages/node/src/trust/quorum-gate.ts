import { actionFamily, type EntryProof, type FstEvent, type SignedEntry } from '@fst/protocol'
import { heldKey, type HeldReports } from '../ledger/held.js'
import type { LedgerRefusal } from '../ledger/store.js'
import type { QuorumTracker } from './quorum.js'

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

  /** Whether this node already holds its own report of the event's action and address. */
  holdsOwn (event: FstEvent): boolean {
    return this.init.tracker.ruleOf(event.action) !== undefined && this.init.held.has(heldKey({ ...event, origin: this.init.self }))
  }

  /**
   * This node's own report (the hook). 'pass': it goes to the ledger. 'held': stored once its proof arrives;
   * `written` resolves when that is durable.
   */
  own (event: FstEvent, proof: Promise<EntryProof>): { verdict: 'pass' } | { verdict: 'held', written: Promise<unknown> } {
    const { held, tracker, self } = this.init
    const entry = { ...event, origin: self }
    if (actionFamily(event.action).removes) held.withdraw(entry)
    const rule = tracker.ruleOf(event.action)
    if (tracker.admit(event, self) === 'pass') return { verdict: 'pass' }
    this.init.onHeld(event.action)
    const within = rule === undefined || event.time >= this.now() - rule.windowS * 1000
    return { verdict: 'held', written: within ? proof.then(p => held.put({ ...entry, proof: p })) : Promise.resolve() }
  }
}
