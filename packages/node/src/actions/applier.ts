import { actionFamily, expiryTombstone, type LedgerEntry, ledgerKey } from '@fst/protocol'
import type { Change } from '../ledger/store.js'
import type { Job } from './runner.js'

/** The part of the runner the applier uses: a job queue (the ActionRunner, or a stub in tests). */
export interface JobQueue {
  enqueue (job: Job): void
  readonly pending: number
}

/**
 * Ledger changes in, script jobs out. Only a change of active state runs anything: a ban that becomes
 * active runs its action, one that stops being active runs the action's removal (`un<family>`), whatever
 * made it stop (an unban, an expiry). Jobs are grouped per action and origin, so a batch of 1,000 bans
 * from one peer is one job and the runner's fair queue can serve origins in turn.
 */
export function jobsFor (changes: readonly Change[]): Job[] {
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
  return [...jobs.values()]
}

/** Queues the jobs for ledger changes on the runner and reports the queue depth. */
export class Applier {
  constructor (private readonly runner: JobQueue, private readonly onQueued: (pending: number) => void = () => {}) {}

  run (changes: readonly Change[]): void {
    for (const job of jobsFor(changes)) this.runner.enqueue(job)
    this.onQueued(this.runner.pending)
  }

  /**
   * Start-up: the ledger's active bans against what this host's scripts last applied (AppliedBans). A ban not
   * applied runs (a node killed with it queued, or every active ban with `reapplyAll`: firewalls forget on
   * reboot); an applied ban whose key the ledger no longer holds as a ban runs its removal. A ban past its time
   * is left to the expiry sweep, which runs its removal. Returns what it queued.
   */
  reconcile (state: ReconcileState): { bans: number, removals: number } {
    const changes: Change[] = []
    const applied = new Set<string>()
    for (const [key, ban] of state.applied) {
      applied.add(key)
      const now = state.entryOf(key)
      if (now !== undefined && !actionFamily(now.action).removes) continue
      // a removal the ledger holds, or for a key pruned since, the ban's own expiry tombstone
      changes.push({ entry: now ?? expiryTombstone(ban), wasActive: true, isActive: false, written: Promise.resolve() })
    }
    const removals = changes.length
    for (const entry of state.active) {
      if (state.reapplyAll || !applied.has(ledgerKey(entry))) changes.push(started(entry))
    }
    this.run(changes)
    return { bans: changes.length - removals, removals }
  }
}

/** What Applier.reconcile compares. */
export interface ReconcileState {
  /** Entries the ledger holds active (own ones only where this node runs its own events). */
  active: readonly LedgerEntry[]
  /** What the scripts applied, by key. */
  applied: Iterable<[string, LedgerEntry]>
  /** The ledger's entry for a key. */
  entryOf: (key: string) => LedgerEntry | undefined
  reapplyAll: boolean
}

function started (entry: LedgerEntry): Change {
  return { entry, wasActive: false, isActive: true, written: Promise.resolve() }
}
