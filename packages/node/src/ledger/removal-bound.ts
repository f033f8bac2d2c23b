/**
 * The removals (unbans and expiry tombstones) each origin has in the ledger, oldest first, so that a bound
 * on them costs O(log n) per removal. Each origin keeps its newest ones: a function of the set of removals,
 * so every node that saw the same ones keeps the same ones (the ledger enforces it: store.ts), and a flood of unbans of keys nobody banned
 * (issue 26: 300k in 10 s) pushes out only its own origin's oldest.
 */
export class RemovalBound {
  /** Per origin, a binary min-heap of [time, key]; entries that no longer hold are skipped when they surface. */
  private readonly heaps = new Map<string, Array<[number, string]>>()
  private readonly live = new Map<string, Map<string, number>>()

  /** Origins that have removals. */
  origins (): string[] {
    return [...this.live.keys()]
  }

  /** Removals `origin` has now. */
  count (origin: string): number {
    return this.live.get(origin)?.size ?? 0
  }

  /** Records that `key` holds a removal of `origin` issued at `time`. */
  add (origin: string, key: string, time: number): void {
    const live = this.live.get(origin) ?? new Map<string, number>()
    this.live.set(origin, live)
    live.set(key, time)
    const heap = this.heaps.get(origin) ?? []
    this.heaps.set(origin, heap)
    push(heap, [time, key])
    // entries left behind by replaced removals: rebuild once they outnumber the live ones
    if (heap.length > 2 * live.size + 1024) this.heaps.set(origin, [...live].map(([k, t]) => [t, k] as [number, string]).sort((a, b) => before(a, b) ? -1 : 1))
  }

  /** Forgets `key`'s removal of `origin` (replaced by a ban, or pruned). */
  delete (origin: string, key: string): void {
    const live = this.live.get(origin)
    if (live === undefined) return
    live.delete(key)
    if (live.size === 0) {
      this.live.delete(origin)
      this.heaps.delete(origin)
    }
  }

  /** The oldest removal `origin` has, if any. */
  oldest (origin: string): { key: string, time: number } | undefined {
    const heap = this.heaps.get(origin)
    const live = this.live.get(origin)
    while (heap !== undefined && heap.length > 0) {
      const [time, key] = heap[0]!
      if (live?.get(key) === time) return { key, time }
      pop(heap)
    }
    return undefined
  }
}

/** The order removals are kept in: by time, equal times by key, so that every node keeps the same ones. */
export function before (a: readonly [number, string], b: readonly [number, string]): boolean {
  return a[0] !== b[0] ? a[0] < b[0] : a[1] < b[1]
}

function push (heap: Array<[number, string]>, item: [number, string]): void {
  heap.push(item)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (!before(item, heap[parent]!)) break
    heap[i] = heap[parent]!
    i = parent
  }
  heap[i] = item
}

function pop (heap: Array<[number, string]>): void {
  const last = heap.pop()!
  if (heap.length === 0) return
  let i = 0
  for (;;) {
    const l = 2 * i + 1
    if (l >= heap.length) break
    const r = l + 1
    const c = r < heap.length && before(heap[r]!, heap[l]!) ? r : l
    if (!before(heap[c]!, last)) break
    heap[i] = heap[c]!
    i = c
  }
  heap[i] = last
}
