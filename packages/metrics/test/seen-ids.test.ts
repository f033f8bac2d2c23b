import type { FstEvent } from '@fst/protocol'
import { describe, expect, it } from 'vitest'
import { eventId, SeenIds } from '../src/seen-ids.js'

const ban: FstEvent = { action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.1', time: 0, duration: 600 }

describe('SeenIds', () => {
  it('forgets the oldest identities beyond its cap and those older than forgetAfterMs', () => {
    let clock = 1_000_000
    const seen = new SeenIds(2, 60_000, () => clock)
    const at = (time: number, origin: string) => eventId({ ...ban, time }, origin)
    expect(seen.add(at(clock, 'A'), clock)).toBe(true)
    expect(seen.add(at(clock, 'A'), clock)).toBe(false)
    // same event from another origin is another entry
    expect(seen.add(at(clock, 'B'), clock)).toBe(true)
    expect(seen.add(at(clock + 1, 'A'), clock + 1)).toBe(true)
    expect(seen.size).toBe(2)
    clock += 61_000
    expect(seen.add(at(clock, 'A'), clock)).toBe(true)
    expect(seen.size).toBe(1)
  })
})
