import { createHash } from 'node:crypto'
import type { SignedEntry } from '@fst/protocol'
import { BUCKETS } from '../ledger/digest.js'
import type { HeldReports } from '../ledger/held.js'
import type { Ledger } from '../ledger/store.js'
import type { CatchupState } from './session.js'

/**
 * The ledger and the held quorum reports as catch-up sees them: 2,048 buckets, one root. Served entries are
 * read from the store with their proofs (memory keeps entries without them, ~250 bytes less per ban).
 */
export function catchupState (ledger: Ledger, held: HeldReports): CatchupState {
  return {
    digests: () => Buffer.concat([ledger.digest.digests(), held.digest.digests()]),
    root () {
      return createHash('sha256').update(this.digests()).digest('hex')
    },
    entriesOf (bucket) {
      if (bucket >= BUCKETS) return [...held.inBucket(bucket - BUCKETS)]
      const out: SignedEntry[] = []
      for (const e of ledger.storedInBucket(bucket)) if (e.proof !== undefined) out.push(e as SignedEntry)
      return out
    }
  }
}
