import { describe, expect, it } from 'vitest'
import { ActiveSet } from '../src/active-set.js'

describe('ActiveSet', () => {
  it('counts bans in force, with expiry seen at the next sweep', () => {
    const clock = { now: 1_000_000 }
    const set = new ActiveSet(10, 60_000, () => clock.now)
    set.apply('a', clock.now, Infinity)
    set.apply('b', clock.now, clock.now + 5_000)
    expect(set.count()).toBe(2)
    clock.now += 5_000
    expect(set.count()).toBe(1)
    // a newer ban on an expired key counts again; a removal stops counting
    set.apply('b', clock.now, Infinity)
    set.apply('a', clock.now, 0)
    expect(set.count()).toBe(1)
  })

  it('holds at most cap keys, forgetting the oldest written, and keeps the count right', () => {
    const set = new ActiveSet(3, 60_000, () => 1000)
    for (const key of ['a', 'b', 'c', 'd', 'e']) set.apply(key, 1000, Infinity)
    expect(set.size).toBe(3)
    expect(set.count()).toBe(3)
    set.apply('c', 1001, 0)
    expect(set.count()).toBe(2)
  })

  it('forgets inactive keys forgetAfterMs after their last event', () => {
    const clock = { now: 1_000_000 }
    const set = new ActiveSet(10, 10_000, () => clock.now)
    set.apply('a', clock.now, clock.now + 1_000)
    set.apply('b', clock.now, Infinity)
    clock.now += 20_000
    expect(set.count()).toBe(1)
    expect(set.size).toBe(1)
  })
})
