import { describe, expect, it } from 'vitest'
import { RateLimiter } from '../src/mesh/rate-limit.js'

describe('RateLimiter', () => {
  it('allows a burst, then refills at the configured rate', () => {
    const limiter = new RateLimiter(10, 5)
    expect(limiter.take('a', 5, 0)).toBe(true)
    expect(limiter.take('a', 1, 0)).toBe(false)
    // 100 ms at 10/s = one token
    expect(limiter.take('a', 1, 100)).toBe(true)
    expect(limiter.take('a', 1, 100)).toBe(false)
    // never more than the burst, however long the pause
    expect(limiter.take('a', 6, 60_000)).toBe(false)
    expect(limiter.take('a', 5, 60_000)).toBe(true)
  })

  it('keeps one bucket per key', () => {
    const limiter = new RateLimiter(1, 2)
    expect(limiter.take('a', 2, 0)).toBe(true)
    expect(limiter.take('a', 1, 0)).toBe(false)
    expect(limiter.take('b', 2, 0)).toBe(true)
  })

  it('refuses a batch larger than the burst without spending tokens', () => {
    const limiter = new RateLimiter(100, 10)
    expect(limiter.take('a', 11, 0)).toBe(false)
    expect(limiter.take('a', 10, 0)).toBe(true)
  })
})
