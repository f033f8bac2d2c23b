import { actionFamily, type AddressGuard, decodeMessage, type EntryProof, type FstEvent } from '@fst/protocol'
import type { Provenance } from '../trust/provenance.js'
import type { RateLimiter } from './rate-limit.js'

/** Why a mesh message was not accepted; bounded label values for the `rejected` counter. */
export type MessageVerdict =
  | { result: 'accept', origin: string, events: FstEvent[], proofs: EntryProof[] }
  | { result: 'reject' | 'ignore', reason: string, error: string }

/** The parts of a gossipsub message the checks need. */
export interface ReceivedMessage {
  type: 'signed' | 'unsigned'
  from?: { toString(): string }
  data: Uint8Array
}

export interface ValidatorInit {
  isMember: (peerId: string) => boolean
  /**
   * True while some entries of sync-peers.txt have no known ID. In a partially connected fleet a node
   * learns them by probing (subset.ts), and until then an unknown signer may be one of them: its messages
   * are ignored (catch-up brings them once pinned), not rejected, which would penalise the honest forwarder.
   */
  anyUnpinned?: () => boolean
  guard: () => AddressGuard
  freshness: { maxAgeS: number, maxSkewS: number }
  rateLimiter: RateLimiter
  /** Checks the origin's signature of the batch root (protocol v2), after the cheap checks. */
  provenance: Pick<Provenance, 'verifyBatch'>
  now?: () => number
}

/**
 * Every received message is hostile until this says otherwise: signed by a listed peer, well formed,
 * fresh, within the origin's rate, naming no protected address, and carrying the origin's signature of the
 * batch root, which every entry keeps as proof when it is relayed later (catch-up). Reject penalises the forwarder in
 * gossipsub's peer score; Ignore drops quietly (stale or over rate, which an honest peer can cause).
 */
export function createMessageValidator (init: ValidatorInit) {
  const now = init.now ?? Date.now
  return (msg: ReceivedMessage): MessageVerdict => {
    if (msg.type !== 'signed' || msg.from === undefined) return { result: 'reject', reason: 'unsigned', error: 'message is not signed' }
    const origin = msg.from.toString()
    if (!init.isMember(origin)) {
      if (init.anyUnpinned?.() === true) return { result: 'ignore', reason: 'unpinned_signer', error: `signer ${origin} is not a pinned peer (some entries are not pinned yet)` }
      return { result: 'reject', reason: 'unlisted_signer', error: `signer ${origin} is not a listed peer` }
    }
    const decoded = decodeMessage(msg.data)
    if (!decoded.valid) return { result: 'reject', reason: decoded.reason, error: decoded.error }
    const { events, s } = decoded.value
    const t = now()
    const guard = init.guard()
    for (const event of events) {
      if (event.time < t - init.freshness.maxAgeS * 1000) return { result: 'ignore', reason: 'stale', error: `event from ${new Date(event.time).toISOString()} is older than ${init.freshness.maxAgeS}s` }
      if (event.time > t + init.freshness.maxSkewS * 1000) return { result: 'ignore', reason: 'future', error: 'event is from the future beyond the allowed clock skew' }
      if (!actionFamily(event.action).removes) {
        const checked = guard.check(event.ip)
        if (!checked.valid) return { result: 'reject', reason: checked.reason, error: checked.error }
      }
    }
    if (!init.rateLimiter.take(origin, events.length)) return { result: 'ignore', reason: 'rate_limited', error: `origin ${origin} is over its rate limit` }
    // last: the most expensive check (one Ed25519 verification and ~2 hashes per event)
    const proofs = init.provenance.verifyBatch(origin, events.map(e => ({ ...e, origin })), s)
    if (proofs === null) return { result: 'reject', reason: 'bad_signature', error: `batch root is not signed by ${origin}` }
    return { result: 'accept', origin, events, proofs }
  }
}
