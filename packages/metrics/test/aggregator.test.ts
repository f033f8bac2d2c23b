import type { FstEvent } from '@fst/protocol'
import { describe, expect, it } from 'vitest'
import { Aggregator } from '../src/aggregator.js'
import { LabelCap, TopCounter } from '../src/labels.js'
import { networkOf } from '../src/network.js'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
const MIN = 60_000

function event (action: string, ip: string, time: number, extra: Partial<FstEvent> = {}): FstEvent {
  return { action, name: 'sshd', protocol: 'tcp', port: '22', ip, time, duration: 0, ...extra }
}

/** An aggregator on a clock the test moves. */
function withClock () {
  const clock = { now: T0 }
  return { clock, agg: new Aggregator({ now: () => clock.now, feedSize: 3, topK: 2, topCap: 4 }) }
}

describe('Aggregator', () => {
  it('counts bans and unbans per minute and keeps the last hour only', () => {
    const { clock, agg } = withClock()
    agg.record(event('ban', '203.0.113.1', clock.now), 'A')
    agg.record(event('ban', '203.0.113.2', clock.now), 'A')
    clock.now += MIN
    agg.record(event('unban', '203.0.113.1', clock.now), 'B')
    const minutes = agg.history()
    expect(minutes).toHaveLength(60)
    expect(minutes.at(-1)).toEqual({ minute: T0 + MIN, bans: 0, unbans: 1 })
    expect(minutes.at(-2)).toEqual({ minute: T0, bans: 2, unbans: 0 })
    expect(minutes.slice(0, -2).every(m => m.bans === 0 && m.unbans === 0)).toBe(true)
    clock.now += 59 * MIN
    expect(agg.history().some(m => m.bans > 0)).toBe(false)
    expect(agg.history().at(0)).toEqual({ minute: T0 + MIN, bans: 0, unbans: 1 })
  })

  it('tracks active bans: last writer wins per key, unbans and expiry remove', () => {
    const { clock, agg } = withClock()
    agg.record(event('ban', '203.0.113.1', T0), 'A')
    agg.record(event('ban', '203.0.113.2', T0, { duration: 30 }), 'A')
    agg.record(event('ban', '203.0.113.3', T0, { name: 'nginx' }), 'A')
    expect(agg.activeBans()).toBe(3)
    agg.record(event('unban', '203.0.113.1', T0 + 5), 'B')
    expect(agg.activeBans()).toBe(2)
    // a late ban issued before the unban changes nothing
    agg.record(event('ban', '203.0.113.1', T0 + 1), 'C')
    expect(agg.activeBans()).toBe(2)
    // same address, other jail: its own key
    agg.record(event('unban', '203.0.113.3', T0 + 5), 'B')
    expect(agg.activeBans()).toBe(2)
    clock.now = T0 + 30_000
    expect(agg.activeBans()).toBe(1)
  })

  it('keeps a bounded feed, newest first, with origin and receipt time', () => {
    const { clock, agg } = withClock()
    for (let i = 1; i <= 5; i++) {
      clock.now = T0 + i
      agg.record(event('ban', `203.0.113.${i}`, T0), `P${i}`)
    }
    const { feed } = agg.summary()
    expect(feed.map(f => f.ip)).toEqual(['203.0.113.5', '203.0.113.4', '203.0.113.3'])
    expect(feed[0]).toMatchObject({ origin: 'P5', received: T0 + 5, time: T0, action: 'ban', name: 'sshd' })
  })

  it('ranks names, actions, addresses and /24 or /64 networks', () => {
    const { agg } = withClock()
    agg.record(event('ban', '203.0.113.1', T0), 'A')
    agg.record(event('ban', '203.0.113.1', T0 + 1, { name: 'nginx' }), 'B')
    agg.record(event('ban', '203.0.113.99', T0), 'A')
    agg.record(event('ban', '2001:db8:1:2::7', T0), 'A')
    agg.record(event('unban', '203.0.113.1', T0 + 2), 'A')
    const s = agg.summary()
    expect(s.topNames).toEqual([{ key: 'sshd', count: 4 }, { key: 'nginx', count: 1 }])
    expect(s.topActions).toEqual([{ key: 'ban', count: 4 }, { key: 'unban', count: 1 }])
    expect(s.topAddresses).toEqual([{ key: '203.0.113.1', count: 2 }, { key: '2001:db8:1:2::7', count: 1 }])
    expect(s.topNetworks).toEqual([{ key: '203.0.113.0/24', count: 3 }, { key: '2001:db8:1:2::/64', count: 1 }])
    expect(s.totals).toEqual({ events: 5, bans: 4, unbans: 1 })
  })
})

describe('bounded labels and lists', () => {
  it('LabelCap gives the first N values their own label and the rest "other"', () => {
    const cap = new LabelCap(2)
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map(v => cap.value(v))).toEqual(['a', 'b', 'other', 'a', 'other', 'b'])
  })

  it('TopCounter never holds more than its cap and keeps the largest counts', () => {
    const top = new TopCounter(4)
    for (let i = 0; i < 10; i++) top.add('big')
    for (let i = 0; i < 1000; i++) top.add(`k${i}`)
    expect(top.size).toBeLessThanOrEqual(4)
    expect(top.top(1)).toEqual([{ key: 'big', count: 10 }])
  })

  it('networkOf groups IPv4 by /24 and IPv6 by /64, keeps wider CIDRs, refuses junk', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24')
    expect(networkOf('198.51.0.0/16')).toBe('198.51.0.0/16')
    expect(networkOf('2001:db8:aa:bb:1:2:3:4')).toBe('2001:db8:aa:bb::/64')
    expect(networkOf('2001:db8::/32')).toBe('2001:db8::/32')
    expect(networkOf('not-an-ip')).toBeNull()
  })
})
