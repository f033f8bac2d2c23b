import { SMALL_STORE_MAP_BYTES, storeOptions } from '@fst/node'
import { open, type RootDatabase } from 'lmdb'
import type { Delta } from './bouncers.js'
import type { ActiveBan } from './decisions.js'

type Key = [string, string]
type Held = Pick<ActiveBan, 'scope' | 'scenario' | 'expires'>

/**
 * What each bouncer holds, on disk (LMDB beside the ledger): after a restart of the node, a bouncer that keeps
 * pulling without `startup=true` still gets the removals that happened meanwhile (a permanent ban lifted
 * while FST was down would otherwise stay in its firewall). Keys `[bouncer name, value]`; only the changes
 * of each pull are written.
 */
export class CursorStore {
  private constructor (private readonly db: RootDatabase<Held, Key>) {}

  static open (path: string): CursorStore {
    return new CursorStore(open<Held, Key>({ path, ...storeOptions(SMALL_STORE_MAP_BYTES) }))
  }

  /** Every bouncer's holdings, by name (names no longer configured are skipped by the caller). */
  load (): Map<string, Map<string, ActiveBan>> {
    const out = new Map<string, Map<string, ActiveBan>>()
    for (const { key, value } of this.db.getRange()) {
      const [name, v] = key
      let held = out.get(name)
      if (held === undefined) {
        held = new Map()
        out.set(name, held)
      }
      held.set(v, { value: v, scope: value.scope, scenario: value.scenario, expires: value.expires })
    }
    return out
  }

  /** Drops a bouncer's holdings (a key no longer configured). */
  forget (name: string): void {
    void this.db.batch(() => {
      for (const key of this.db.getKeys({ start: [name, ''], end: [name, '\uffff'] })) void this.db.remove(key)
    })
  }

  /** One pull's changes for a bouncer; `reset` first drops all it held (`startup=true`). */
  record (name: string, delta: Delta, reset: boolean): void {
    if (!reset && delta.new.length === 0 && delta.deleted.length === 0) return
    void this.db.batch(() => {
      if (reset) for (const key of this.db.getKeys({ start: [name, ''], end: [name, '\uffff'] })) void this.db.remove(key)
      for (const b of delta.deleted) void this.db.remove([name, b.value])
      for (const b of delta.new) void this.db.put([name, b.value], { scope: b.scope, scenario: b.scenario, expires: b.expires })
    })
  }

  async close (): Promise<void> {
    await this.db.flushed
    await this.db.close()
  }
}
