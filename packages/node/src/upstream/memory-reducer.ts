import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

export interface MemoryReducerInit {
  /** Ledger changes since the last collection that count as a wave. */
  minChanges: number
  /** How long the node must be quiet after a wave before collecting. */
  quietMs: number
  /**
   * Whether the wave's work is still going on past the ledger (the runner working through its queued scripts,
   * which takes minutes for 100,000 per-ban scripts): the collection waits for it, or that work's garbage stays.
   */
  busy?: () => boolean
  /**
   * Traffic that never pauses still gets a collection this often (none while nothing changes). V8 keeps the pages
   * a collection empties in a pool that only a memory-reducing collection returns, and its own reducer waits for
   * a quiet that steady traffic never gives: a soak's witness held every new peak of its heap that way, +4.7 MB/h
   * of RSS with the heap flat.
   */
  upkeepMs?: number
  /** Runs a full garbage collection; V8's memory-reducing one by default (`fullCollection`). */
  gc?: () => void
}

/**
 * Gives an attack wave's garbage back once the wave is over. V8 grows its heap to absorb a burst and, in a
 * process that then sits idle (nothing allocates, Node sends V8 no idle notifications), keeps it: a node
 * that applied 100,000 bans stayed at ~210 MB RSS with ~48 MB of its heap live. A memory-reducing full
 * collection when the node has been quiet for `quietMs` after at least `minChanges` changes gives the pages
 * back. It never runs during a wave and at most once per wave; its pause (~360 ms for the test's 400,000
 * objects in a bare script; not timed in a node) falls into a quiet moment.
 */
export class MemoryReducer {
  private changes = 0
  private lastChange = 0
  private timer: NodeJS.Timeout | null = null
  private upkeep: NodeJS.Timeout | null = null
  private collectedAtUpkeep = 0
  private collected = 0
  private readonly gc: () => void

  constructor (private readonly init: MemoryReducerInit) {
    this.gc = init.gc ?? fullCollection
  }

  /** Called for every batch of ledger changes (on the hot path: no timer is touched once one is armed). */
  noteChanges (count: number): void {
    this.changes += count
    this.lastChange = Date.now()
    if (this.changes >= this.init.minChanges && this.timer === null) this.arm(this.init.quietMs)
    if (this.upkeep === null && this.init.upkeepMs !== undefined) this.armUpkeep(this.init.upkeepMs)
  }

  /** Counts as a whole wave (the node's start): collects once the node has been quiet. */
  noteWave (): void {
    this.noteChanges(this.init.minChanges)
  }

  private arm (ms: number): void {
    this.timer = setTimeout(() => this.check(), ms)
    this.timer.unref()
  }

  private armUpkeep (ms: number): void {
    this.collectedAtUpkeep = this.collected
    this.upkeep = setTimeout(() => this.checkUpkeep(), ms)
    this.upkeep.unref()
  }

  /** Collects if the node has been quiet long enough, else waits for the rest of the quiet time. */
  private check (): void {
    this.timer = null
    if (this.init.busy?.() === true) this.lastChange = Date.now()
    const quietFor = Date.now() - this.lastChange
    if (quietFor < this.init.quietMs) {
      this.arm(this.init.quietMs - quietFor)
      return
    }
    this.collect()
  }

  /** `upkeepMs` after a change: collects unless a quiet collection ran meanwhile; the next change arms the next. */
  private checkUpkeep (): void {
    this.upkeep = null
    if (this.collected === this.collectedAtUpkeep) this.collect()
  }

  private collect (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.changes = 0
    this.gc()
    this.collected++
  }

  /** Collections run so far (`fst status`: a reading after one is a reading at rest). */
  get collections (): number {
    return this.collected
  }

  stop (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    if (this.upkeep !== null) clearTimeout(this.upkeep)
    this.timer = null
    this.upkeep = null
  }
}

type Gc = (options?: { type: 'major', execution: 'sync', flavor: 'last-resort' }) => void

/**
 * V8's `gc()`, without starting node with --expose-gc (the flag only adds the function to new contexts), as the
 * collection V8 runs when memory runs out: it compacts the old generation, shrinks the young one and returns the
 * emptied pages. Two plain full collections free the objects but keep the pages: 400,000 objects of which a
 * quarter stay live left 198 MB allocated for 38 MB used, where this one leaves 41 MB (memory-reducer.test.ts).
 */
function exposedGc (): () => void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as Gc
  return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
}

let collector: (() => void) | undefined

/** The collection the reducer runs by default (exported for its test). */
export function fullCollection (): void {
  collector ??= exposedGc()
  collector()
}
