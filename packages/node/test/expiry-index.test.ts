import { describe, expect, it } from 'vitest'
import { ExpiryIndex } from '../src/ledger/expiry-index.js'

describe('ExpiryIndex', () => {
  it('takes each key once, when its end has come, in any order of setting', () => {
    const index = new ExpiryIndex()
    const ends = [5300, 1200, 1999, 2000, 9000, 1200]
    ends.forEach((end, i) => { index.set(`k${i}`, end) })
    expect(index.takeDue(1000)).toEqual([])
    expect(index.takeDue(1500).sort()).toEqual(['k1', 'k5'])
    expect(index.takeDue(1500)).toEqual([])
    expect(index.takeDue(2000).sort()).toEqual(['k2', 'k3'])
    expect(index.takeDue(8999)).toEqual(['k0'])
    expect(index.size).toBe(1)
    expect(index.takeDue(100_000)).toEqual(['k4'])
    expect(index.size).toBe(0)
  })

  it('keeps a key due later in the same second for the next sweep', () => {
    const index = new ExpiryIndex()
    index.set('early', 3100)
    index.set('late', 3900)
    expect(index.takeDue(3500)).toEqual(['early'])
    expect(index.has('late')).toBe(true)
    expect(index.takeDue(3899)).toEqual([])
    expect(index.takeDue(3900)).toEqual(['late'])
  })

  it('follows a key whose end moves, and forgets a deleted one', () => {
    const index = new ExpiryIndex()
    index.set('moved', 2000)
    index.set('moved', 7000)
    index.set('gone', 2000)
    index.delete('gone')
    index.set('earlier', 9000)
    index.set('earlier', 1000)
    expect(index.takeDue(2500)).toEqual(['earlier'])
    expect(index.takeDue(6999)).toEqual([])
    expect(index.takeDue(7000)).toEqual(['moved'])
    expect(index.has('gone')).toBe(false)
  })

  it('a key re-banned again and again does not grow the index without bound', () => {
    const index = new ExpiryIndex()
    for (let i = 0; i < 100; i++) index.set(`steady${i}`, 1e12)
    for (let i = 0; i < 200_000; i++) index.set('rebanned', 1_000_000 + i * 1000)
    expect(index.size).toBe(101)
    // stale places are dropped at rebuilds: fewer than twice the keys plus the rebuild slack stay
    expect((index as unknown as { listed: number }).listed).toBeLessThanOrEqual(2 * 101 + 1024 + 1)
    expect(index.takeDue(1_000_000 + 199_999 * 1000)).toEqual(['rebanned'])
    expect(index.takeDue(1e12)).toHaveLength(100)
  })
})
