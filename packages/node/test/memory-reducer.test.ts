import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { rssPartsMb } from '../../../test/bench/stats.js'
import { fullCollection, MemoryReducer } from '../src/upstream/memory-reducer.js'

/** Resident MB of V8's heap pages (the soak's smaps reader). */
const v8PagesMb = () => rssPartsMb(process.pid)!.v8Pages

describe('MemoryReducer', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('collects once, when a wave of changes is followed by quiet, never during the wave', () => {
    const gc = vi.fn()
    const reducer = new MemoryReducer({ minChanges: 1000, quietMs: 2000, gc })
    for (let i = 0; i < 30; i++) {
      reducer.noteChanges(100)
      vi.advanceTimersByTime(500)
    }
    expect(gc).not.toHaveBeenCalled()
    vi.advanceTimersByTime(2000)
    expect(gc).toHaveBeenCalledTimes(1)
    expect(reducer.collections).toBe(1)
    vi.advanceTimersByTime(60_000)
    expect(gc).toHaveBeenCalledTimes(1)
    expect(reducer.collections).toBe(1)
  })

  it('leaves small traffic alone and counts it toward the next wave', () => {
    const gc = vi.fn()
    const reducer = new MemoryReducer({ minChanges: 1000, quietMs: 2000, gc })
    reducer.noteChanges(999)
    vi.advanceTimersByTime(10_000)
    expect(gc).not.toHaveBeenCalled()
    reducer.noteChanges(1)
    vi.advanceTimersByTime(2000)
    expect(gc).toHaveBeenCalledTimes(1)
  })

  it('takes a start for a wave: one collection once the node is quiet', () => {
    const gc = vi.fn()
    const reducer = new MemoryReducer({ minChanges: 1000, quietMs: 2000, gc })
    reducer.noteWave()
    vi.advanceTimersByTime(1999)
    expect(gc).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(gc).toHaveBeenCalledTimes(1)
  })

  it('waits while the wave\'s scripts still run, then collects once', () => {
    const gc = vi.fn()
    let pending = 5000
    const reducer = new MemoryReducer({ minChanges: 1000, quietMs: 2000, gc, busy: () => pending > 0 })
    reducer.noteChanges(5000)
    vi.advanceTimersByTime(30_000)
    expect(gc).not.toHaveBeenCalled()
    pending = 0
    // the first check after the queue emptied collects
    vi.advanceTimersByTime(2000)
    expect(gc).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(60_000)
    expect(gc).toHaveBeenCalledTimes(1)
  })

  it('collects once per upkeep period under traffic that is never quiet, and not while nothing changes', () => {
    const gc = vi.fn()
    const reducer = new MemoryReducer({ minChanges: 1000, quietMs: 2000, upkeepMs: 300_000, gc })
    // 50 changes a second for 12 minutes: never 2 s without one
    for (let s = 0; s < 720; s++) {
      reducer.noteChanges(50)
      vi.advanceTimersByTime(1000)
    }
    expect(gc).toHaveBeenCalledTimes(2)
    // the traffic's end is a wave's end: its quiet collection, then none for an hour without changes
    vi.advanceTimersByTime(3_600_000)
    expect(gc).toHaveBeenCalledTimes(3)
    reducer.noteChanges(1)
    vi.advanceTimersByTime(299_999)
    expect(gc).toHaveBeenCalledTimes(3)
    vi.advanceTimersByTime(1)
    expect(gc).toHaveBeenCalledTimes(4)
    reducer.stop()
  })

  it('counts a quiet collection for the upkeep period: no second one right after', () => {
    const gc = vi.fn()
    const reducer = new MemoryReducer({ minChanges: 1000, quietMs: 2000, upkeepMs: 300_000, gc })
    reducer.noteChanges(5000)
    vi.advanceTimersByTime(2000)
    expect(gc).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(298_000)
    expect(gc).toHaveBeenCalledTimes(1)
    reducer.stop()
  })

  it('does not collect after stop()', () => {
    const gc = vi.fn()
    const reducer = new MemoryReducer({ minChanges: 1, quietMs: 2000, gc })
    reducer.noteChanges(5)
    const upkept = new MemoryReducer({ minChanges: 1000, quietMs: 2000, upkeepMs: 10_000, gc })
    upkept.noteChanges(5)
    upkept.stop()
    reducer.stop()
    vi.advanceTimersByTime(5000)
    expect(gc).not.toHaveBeenCalled()
  })

  it('reaches V8\'s collector without --expose-gc: a wave\'s garbage is gone after the quiet time', () => {
    const reducer = new MemoryReducer({ minChanges: 1, quietMs: 10 })
    const wave = () => Array.from({ length: 200_000 }, (_, i) => ({ ip: `198.18.${i >> 8}.${i & 255}`, i })).length
    reducer.noteChanges(wave())
    const before = process.memoryUsage().heapUsed
    vi.advanceTimersByTime(10)
    expect(before - process.memoryUsage().heapUsed).toBeGreaterThan(10 * 1024 * 1024)
  })

  it('gives the emptied heap pages back, not only the objects (two plain full collections kept 198 MB allocated for 38 MB live)', () => {
    vi.useRealTimers()
    // a wave's shape: many objects, a quarter of them kept (the ledger), the rest garbage spread among them
    const kept = new Map<string, object>()
    let garbage: object[] | null = []
    for (let i = 0; i < 400_000; i++) {
      const o = { key: `ban|sshd|tcp|22|198.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, i, pair: [i, i + 1] }
      if (i % 4 === 0) kept.set(o.key, o)
      else garbage.push(o)
    }
    expect(garbage.length).toBe(300_000)
    garbage = null
    fullCollection()
    const { heapTotal, heapUsed } = process.memoryUsage()
    expect(kept.size).toBe(100_000)
    expect(heapTotal - heapUsed, `${(heapTotal / 2 ** 20).toFixed(1)} MB allocated for ${(heapUsed / 2 ** 20).toFixed(1)} MB used`).toBeLessThan(24 * 2 ** 20)
  })

  it('returns the pages V8 pools after a plain full collection (RSS, not only heapTotal)', () => {
    vi.useRealTimers()
    setFlagsFromString('--expose-gc')
    const plainGc = runInNewContext('gc') as () => void
    let garbage: object[] | null = Array.from({ length: 1_500_000 }, (_, i) => ({ i, s: `198.18.${i >> 8}.${i & 255}` }))
    expect(garbage.length).toBe(1_500_000)
    garbage = null
    plainGc()
    plainGc()
    const pooled = v8PagesMb() - process.memoryUsage().heapTotal / 2 ** 20
    fullCollection()
    const after = v8PagesMb() - process.memoryUsage().heapTotal / 2 ** 20
    // the plain collections free the objects and keep their pages resident outside heapTotal (V8's page pool)
    expect(pooled, `${pooled.toFixed(1)} MB of pages beyond heapTotal after plain collections`).toBeGreaterThan(40)
    expect(after, `${after.toFixed(1)} MB of pages beyond heapTotal after the memory-reducing one`).toBeLessThan(10)
  })
})
