import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from '../src/duration.js'

describe('Go durations (CrowdSec)', () => {
  it('parses every unit Go prints, both micro signs included, and refuses what is not one', () => {
    expect(parseDuration('3h59m30.5s')).toBe(14_370_500)
    expect(parseDuration('1500µs')).toBe(1.5)
    expect(parseDuration('1500μs')).toBe(1.5)
    expect(parseDuration('2000us')).toBe(2)
    expect(parseDuration('-1m')).toBe(-60_000)
    expect(parseDuration('0')).toBe(0)
    expect(parseDuration('5 days')).toBeNull()
    expect(parseDuration('1ms'.repeat(30))).toBeNull()
  })

  it('formats what it parses back', () => {
    for (const ms of [0, 999, 59_000, 3_599_500, 14_370_500]) expect(parseDuration(formatDuration(ms))).toBe(ms)
  })
})
