/**
 * Keys with an end time, found by time: the sweep (five times a second) takes what is due without walking the
 * rest. A walk of every expiring key cost ~2 s of CPU per node over the 300,000-ban throughput run.
 *
 * Keys are listed under the second their end falls in, and those seconds are kept in a min-heap. A key whose end
 * moves stays listed under its old second as well and is skipped there; the lists are rebuilt when such stale
 * places outnumber the keys, so a key re-banned again and again cannot grow them without bound.
 */
export class ExpiryIndex {
  private readonly ends = new Map<string, number>()
  private readonly bySecond = new Map<number, string[]>()
  /** The seconds of `bySecond`, a binary min-heap. */
  private readonly heap: number[] = []
  /** Places in the lists, current and stale. */
  private listed = 0

  get size (): number {
    return this.ends.size
  }

  has (key: string): boolean {
    return this.ends.has(key)
  }

  set (key: string, end: number): void {
    if (this.ends.get(key) === end) return
    this.ends.set(key, end)
    this.list(key, end)
    if (this.listed > 2 * this.ends.size + 1024) this.rebuild()
  }

  delete (key: string): void {
    this.ends.delete(key)
  }

  /** Takes the keys whose end is at or before `now` out of the index (a caller that keeps one sets it again). */
  takeDue (now: number): string[] {
    const due: string[] = []
    const notYet: string[] = []
    const nowSecond = Math.floor(now / 1000)
    while (this.heap.length > 0 && this.heap[0]! <= nowSecond) {
      const second = popMin(this.heap)
      const keys = this.bySecond.get(second)!
      this.bySecond.delete(second)
      this.listed -= keys.length
      for (const key of keys) {
        const end = this.ends.get(key)
        // gone, or moved to another second (and listed there)
        if (end === undefined || Math.floor(end / 1000) !== second) continue
        if (end > now) {
          notYet.push(key)
        } else {
          this.ends.delete(key)
          due.push(key)
        }
      }
    }
    for (const key of notYet) this.list(key, this.ends.get(key)!)
    return due
  }

  private list (key: string, end: number): void {
    const second = Math.floor(end / 1000)
    const keys = this.bySecond.get(second)
    if (keys !== undefined) {
      keys.push(key)
    } else {
      this.bySecond.set(second, [key])
      pushMin(this.heap, second)
    }
    this.listed++
  }

  private rebuild (): void {
    this.bySecond.clear()
    this.heap.length = 0
    this.listed = 0
    for (const [key, end] of this.ends) this.list(key, end)
  }
}

function pushMin (heap: number[], value: number): void {
  let i = heap.push(value) - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap[parent]! <= value) break
    heap[i] = heap[parent]!
    i = parent
  }
  heap[i] = value
}

function popMin (heap: number[]): number {
  const top = heap[0]!
  const last = heap.pop()!
  if (heap.length === 0) return top
  let i = 0
  for (;;) {
    const left = 2 * i + 1
    if (left >= heap.length) break
    const child = left + 1 < heap.length && heap[left + 1]! < heap[left]! ? left + 1 : left
    if (heap[child]! >= last) break
    heap[i] = heap[child]!
    i = child
  }
  heap[i] = last
  return top
}
