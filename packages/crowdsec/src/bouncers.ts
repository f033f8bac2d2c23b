import type { ActiveBan, DecisionFilter } from './decisions.js'
import { matchesFilter } from './decisions.js'

/** One pull's answer before it is turned into decisions. */
export interface Delta {
  new: ActiveBan[]
  deleted: ActiveBan[]
  /** Changes left for the next pull because the answer was full. */
  pending: number
}

/**
 * What one bouncer (API key) was last given: value → the ban it holds. A pull answers the difference between
 * that and the bans active now, so a ban received late (catch-up, a peer's clock behind) still reaches it, and
 * an answer cut at `max` simply leaves the rest for the next pull. LAPI does the same with a last-pull time.
 */
export class BouncerCursor {
  /** Time of the last answered pull (ms), for status. */
  lastPull = 0

  /** `served`: what the bouncer held when the node stopped (CursorStore), else nothing. */
  constructor (private served = new Map<string, ActiveBan>()) {}

  /** `startup=true`: the bouncer starts from nothing, so everything active is new. */
  reset (): void {
    this.served = new Map()
  }

  get size (): number {
    return this.served.size
  }

  /**
   * The changes since the last pull, at most `max` of them (deletions first: they are few and lifting a ban
   * late is worse than adding one a poll later). The cursor advances over what is returned.
   */
  pull (active: ReadonlyMap<string, ActiveBan>, filter: DecisionFilter, max: number, now = Date.now()): Delta {
    const delta: Delta = { new: [], deleted: [], pending: 0 }
    let budget = max
    for (const [value, held] of this.served) {
      const current = active.get(value)
      if (current !== undefined && matchesFilter(current, filter)) continue
      if (budget === 0) { delta.pending++; continue }
      delta.deleted.push(held)
      this.served.delete(value)
      budget--
    }
    for (const [value, ban] of active) {
      if (!matchesFilter(ban, filter)) continue
      const held = this.served.get(value)
      if (held !== undefined && held.expires === ban.expires) continue
      // a renewed or longer ban goes out again with its new duration
      if (budget === 0) { delta.pending++; continue }
      delta.new.push(ban)
      this.served.set(value, ban)
      budget--
    }
    this.lastPull = now
    return delta
  }
}
