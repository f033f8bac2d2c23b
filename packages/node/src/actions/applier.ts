import { actionFamily, type LedgerEntry } from '@fst/protocol'
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

  /** Runs the scripts again for entries active now, as if each had just arrived (start-up: firewalls forget on reboot). */
  reapply (active: readonly LedgerEntry[]): void {
    this.run(active.map(entry => ({ entry, wasActive: false, isActive: true, written: Promise.resolve() })))
  }
}
