import { type AddressGuard, prunable, type SignedEntry } from '@fst/protocol'
import type { Logger } from 'pino'
import type { NodeConfig } from '../config/config.js'
import type { HeldReports } from '../ledger/held.js'
import type { Ledger } from '../ledger/store.js'
import type { Host } from '../mesh/host.js'
import type { NodeMetrics } from '../metrics/metrics.js'
import type { Membership } from '../trust/membership.js'
import type { Provenance } from '../trust/provenance.js'
import { Catchup } from './service.js'
import { catchupState } from './state.js'

export interface NodeCatchupInit {
  config: NodeConfig
  host: Host
  ledger: Ledger
  held: HeldReports
  membership: Membership
  self: string
  /** The never-ban list of the moment (it changes when sync-peers.txt is re-read). */
  guard: () => AddressGuard
  provenance: Provenance
  /** Validated entries into the receive path; returns how many changed the ledger. */
  apply: (entries: SignedEntry[]) => number
  metrics: Pick<NodeMetrics, 'catchupPulls' | 'catchupEntries'>
  /** A pull stopped at `limits.maxEntriesPerPull`. */
  onLimited: (peer: string) => void
  log: Logger
}

/**
 * Catch-up as a node runs it: entries checked like gossip (membership, never-ban list, time, retention, the
 * origin's proof), applied through the same receive path, every pull counted by outcome and entries by result.
 */
export function nodeCatchup (init: NodeCatchupInit): Catchup {
  const { config, metrics } = init
  return new Catchup({
    host: init.host,
    state: catchupState(init.ledger, init.held),
    maxEntriesPerPull: config.limits.maxEntriesPerPull,
    isMember: id => init.membership.isMember(id),
    policy: () => ({
      isMember: id => init.membership.isMember(id),
      self: init.self,
      guard: init.guard(),
      maxTime: Date.now() + config.freshness.maxSkewS * 1000,
      isPrunable: e => prunable(e, config.ledgerRetentionS * 1000),
      verify: (entry, proof) => init.provenance.verifyEntry(entry, proof)
    }),
    apply: init.apply,
    changes: () => init.ledger.changes,
    intervalMs: config.catchup.intervalS * 1000,
    timeoutMs: config.catchup.timeoutS * 1000,
    log: init.log,
    onPull: (outcome, result, peer) => {
      metrics.catchupPulls.inc({ outcome })
      if (result === undefined) return
      if (result.limited) init.onLimited(peer ?? '')
      const refused = Object.values(result.refused).reduce((a, b) => a + b, 0)
      metrics.catchupEntries.inc({ outcome: 'applied' }, result.applied)
      metrics.catchupEntries.inc({ outcome: 'unchanged' }, result.received - result.applied - refused)
      for (const [reason, n] of Object.entries(result.refused)) metrics.catchupEntries.inc({ outcome: reason }, n)
    }
  })
}
