/**
 * Caps the distinct values of one Prometheus label. The first `max` values seen keep their own series;
 * later ones share `other`. First-come rather than top-K: a counter's series cannot move between labels
 * without breaking `rate()`, and names on a real fleet are few (jails), so the cap only guards against abuse.
 */
export class LabelCap {
  private readonly seen = new Set<string>()

  constructor (private readonly max: number, readonly overflow = 'other') {}

  value (raw: string): string {
    if (this.seen.has(raw)) return raw
    if (this.seen.size >= this.max) return this.overflow
    this.seen.add(raw)
    return raw
  }
}

/**
 * Counts per key with a bounded number of keys: when full, the smallest half of the counts is dropped
 * (a rough top-K; a key that returns starts again from one). Enough to show "most reported" lists.
 */
export class TopCounter {
  private readonly counts = new Map<string, number>()

  constructor (private readonly cap: number) {}

  add (key: string, by = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + by)
    if (this.counts.size > this.cap) this.prune()
  }

  /** The `k` largest counts, largest first; ties by key for stable output. */
  top (k: number): Array<{ key: string, count: number }> {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, k)
      .map(([key, count]) => ({ key, count }))
  }

  get size (): number {
    return this.counts.size
  }

  private prune (): void {
    const keep = this.top(Math.floor(this.cap / 2))
    this.counts.clear()
    for (const { key, count } of keep) this.counts.set(key, count)
  }
}
