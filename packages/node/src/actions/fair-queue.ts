/**
 * A queue with one lane per key, served round-robin: whatever one key (an origin peer) piles up, the next
 * item of every other key is at most one turn away. Within a lane, order is kept.
 */
export class FairQueue<T> {
  // a Map iterates in insertion order: delete + set moves a lane to the back of the rotation
  private readonly lanes = new Map<string, T[]>()
  private count = 0

  /** Items waiting, over all lanes. */
  get size (): number {
    return this.count
  }

  /** Keys with items waiting. */
  get keys (): number {
    return this.lanes.size
  }

  push (key: string, item: T): void {
    const lane = this.lanes.get(key)
    if (lane === undefined) this.lanes.set(key, [item])
    else lane.push(item)
    this.count++
  }

  /** Puts an item back at the head of its lane (the rest of a job cut short for fairness). */
  unshift (key: string, item: T): void {
    const lane = this.lanes.get(key)
    if (lane === undefined) this.lanes.set(key, [item])
    else lane.unshift(item)
    this.count++
  }

  /** Takes the head of the next lane in the rotation; that lane then waits behind every other. */
  shift (): T | undefined {
    const next = this.lanes.entries().next()
    if (next.done === true) return undefined
    const [key, lane] = next.value
    const item = lane.shift()
    this.lanes.delete(key)
    if (lane.length > 0) this.lanes.set(key, lane)
    this.count--
    return item
  }

  /** The head of one key's lane, without taking it. */
  peek (key: string): T | undefined {
    return this.lanes.get(key)?.[0]
  }

  /** Takes the head of one key's lane; the lane keeps its place in the rotation. */
  shiftFrom (key: string): T | undefined {
    const lane = this.lanes.get(key)
    if (lane === undefined) return undefined
    const item = lane.shift()
    if (lane.length === 0) this.lanes.delete(key)
    this.count--
    return item
  }

  /**
   * Walks one key's lane from its head and takes the items `pick` answers 'take' for; the others stay, in their
   * order. The walk ends at 'stop' or the lane's end; the lane keeps its place in the rotation.
   */
  takeFrom (key: string, pick: (item: T) => 'take' | 'keep' | 'stop'): T[] {
    const lane = this.lanes.get(key)
    if (lane === undefined) return []
    const taken: T[] = []
    const kept: T[] = []
    let walked = 0
    for (; walked < lane.length; walked++) {
      const item = lane[walked]!
      const verdict = pick(item)
      if (verdict === 'stop') break
      ;(verdict === 'take' ? taken : kept).push(item)
    }
    if (taken.length === 0) return taken
    lane.splice(0, walked, ...kept)
    if (lane.length === 0) this.lanes.delete(key)
    this.count -= taken.length
    return taken
  }

  clear (): void {
    this.lanes.clear()
    this.count = 0
  }
}
