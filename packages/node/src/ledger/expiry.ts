import type { FstEvent } from '@fst/protocol'
import type { Change, Ledger } from './store.js'

export interface ExpiryInit {
  ledger: Pick<Ledger, 'expire' | 'prune'>
  /** This node's peer ID: its own expired bans are also announced to the mesh. */
  self: string
  /** Hands an own ban's tombstone to the mesh (the batcher). */
  announce: (event: FstEvent) => void
  /** Runs the unbans of expired bans (the applier). */
  apply: (changes: Change[]) => void
  /** Whether this node runs scripts for its own events too. */
  runOwnEvents: boolean
  /** Tombstones older than this are not announced: peers' freshness check would drop them. */
  announceWithinMs: number
  /** Tombstones older than this are pruned. */
  retentionMs: number
  now?: () => number
  /** @default 200 */
  sweepMs?: number
  /** @default 1 hour */
  pruneMs?: number
}

/**
 * Expired bans and old tombstones. Every node replaces an expired ban with the same tombstone and unbans by
 * itself; the origin also tells the mesh, as the original FST did. Tombstones past the retention are pruned.
 */
export class ExpirySweeper {
  private sweeper: NodeJS.Timeout | null = null
  private pruner: NodeJS.Timeout | null = null
  private readonly now: () => number

  constructor (private readonly init: ExpiryInit) {
    this.now = init.now ?? Date.now
  }

  start (): void {
    if (this.sweeper !== null) return
    this.sweeper = setInterval(() => this.sweep(), this.init.sweepMs ?? 200)
    this.pruner = setInterval(() => { void this.prune() }, this.init.pruneMs ?? 3600_000)
  }

  stop (): void {
    if (this.sweeper !== null) clearInterval(this.sweeper)
    if (this.pruner !== null) clearInterval(this.pruner)
    this.sweeper = null
    this.pruner = null
  }

  /** One sweep: tombstones for bans whose time is up, their unbans queued, own ones announced. */
  sweep (): void {
    const now = this.now()
    const expired = this.init.ledger.expire(now)
    if (expired.length === 0) return
    const changes: Change[] = []
    const fresh = now - this.init.announceWithinMs
    for (const { tombstone } of expired) {
      const own = tombstone.origin === this.init.self
      if (own && tombstone.time > fresh) {
        const { origin: _origin, ...event } = tombstone
        this.init.announce(event)
      }
      if (!own || this.init.runOwnEvents) changes.push({ entry: tombstone, wasActive: true, isActive: false, written: Promise.resolve() })
    }
    this.init.apply(changes)
  }

  prune (): Promise<number> {
    return this.init.ledger.prune(this.init.retentionMs, this.now())
  }
}
