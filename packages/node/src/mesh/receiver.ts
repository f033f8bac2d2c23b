import type { EntryProof, FstEvent, SignedEntry } from '@fst/protocol'
import type { PeerId } from '@libp2p/interface'
import type { Change, Ledger, LedgerRefusal } from '../ledger/store.js'
import type { QuorumGate } from '../trust/quorum-gate.js'
import type { LogThrottle } from '../metrics/log-throttle.js'
import type { NodeMetrics } from '../metrics/metrics.js'
import type { MessageVerdict } from './validator.js'

export interface ReceiverInit {
  ledger: Pick<Ledger, 'applyMany'>
  /** The quorum, or null when no action needs one (admission is then skipped entirely). */
  quorum: Pick<QuorumGate, 'admit'> | null
  /** An entry the ledger refused (counted and logged by the caller). */
  onRefused: (reason: LedgerRefusal, entry: SignedEntry) => void
  /** Runs the scripts of changes (the applier). */
  apply: (changes: Change[]) => void
  metrics: Pick<NodeMetrics, 'received' | 'messages' | 'rejected'>
  throttle: Pick<LogThrottle, 'warn'>
  /** Told how many ledger changes were made (the memory reducer watches for waves). */
  onChanges?: (count: number) => void
  now?: () => number
}

/** A validator turn yields to the event loop this often, and always after a message over its origin's rate. */
const YIELD_EVERY = 32

/**
 * The receive path: verdicts of the topic validator in, ledger changes and script runs out. Entries from
 * catch-up take the same path after their own validation (catchup/wire.ts), so a ban runs its scripts once
 * whichever way it arrives.
 */
export class Receiver {
  /** When each origin's last accepted message arrived (`fst peers`). */
  readonly lastHeard = new Map<string, number>()
  /** Valid mesh messages accepted from others. */
  accepted = 0
  /** Entries from catch-up that changed the ledger (after a restart these are what the node missed). */
  caughtUp = 0
  private validated = 0
  private stopped = false
  private readonly now: () => number

  constructor (private readonly init: ReceiverInit) {
    this.now = init.now ?? Date.now
  }

  /**
   * Sees every verdict of the topic validator before gossipsub acts on it. Gossipsub accepts a message right
   * after this returns, so an accepted one is applied here: no second lookup of the verdict in its 'message'
   * event. Never throws: a throw would turn into a Reject of an honest peer's message.
   */
  onVerdict = async (verdict: MessageVerdict, _msg: unknown, from: PeerId): Promise<void> => {
    // gossipsub works through one peer's buffered RPCs without returning to the event loop; yielding lets
    // other peers' messages in while one peer floods
    if ((verdict.result !== 'accept' && verdict.reason === 'rate_limited') || ++this.validated % YIELD_EVERY === 0) await yieldToEventLoop()
    this.init.metrics.messages.inc({ outcome: verdict.result })
    if (verdict.result === 'accept') {
      this.accepted++
      this.receive(verdict.origin, verdict.events, verdict.proofs)
      return
    }
    this.init.metrics.rejected.inc({ reason: verdict.reason })
    this.init.throttle.warn(verdict.reason, { error: verdict.error, from: from.toString() }, `message ${verdict.result === 'reject' ? 'rejected' : 'ignored'}`)
  }

  /** Applies one accepted message's events, issued by `origin`, with the proofs its validation derived. */
  receive (origin: string, events: readonly FstEvent[], proofs: readonly EntryProof[]): Change[] {
    this.lastHeard.set(origin, this.now())
    return this.applyEntries(events.map((e, i) => ({ ...e, origin, proof: proofs[i]! })))
  }

  /**
   * Applies verified entries (mesh or catch-up): only those that change the ledger's active state run scripts.
   * A report of an action with a quorum rule is held (stored with its proof, reconciled by catch-up) and
   * enters the ledger once enough distinct peers made it.
   */
  applyEntries (entries: readonly SignedEntry[]): Change[] {
    if (this.stopped) return []
    const { quorum } = this.init
    const admitted = quorum === null ? entries : entries.filter(e => quorum.admit(e))
    const changes = this.init.ledger.applyMany(admitted, this.now(), this.init.onRefused)
    this.init.onChanges?.(changes.length)
    for (const c of changes) this.init.metrics.received.inc({ action: c.entry.action })
    this.init.apply(changes)
    return changes
  }

  /** Applies entries a catch-up pull validated, counting those that changed the ledger (`fst status`). */
  applyCaughtUp (entries: readonly SignedEntry[]): Change[] {
    const changes = this.applyEntries(entries)
    this.caughtUp += changes.length
    return changes
  }

  /** From here on nothing enters the ledger whose scripts could not run; catch-up brings it after a restart. */
  stop (): void {
    this.stopped = true
  }
}

function yieldToEventLoop (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}
