import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Aggregator, type FeedItem } from '../src/aggregator.js'
import { HistoryStore } from '../src/history.js'

const dir = mkdtempSync(join(tmpdir(), 'fst-history-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
const item = (i: number, ip: string, action = 'ban'): FeedItem => ({
  received: T0 + i, time: T0 + i - 5, action, name: 'sshd', protocol: 'tcp', port: '22', ip, duration: 0, origin: 'peerA', country: 'DE', asn: 3320, org: 'Deutsche Telekom AG'
})

describe('HistoryStore', () => {
  it('keeps events across a reopen, indexes them by address and replays them into an aggregator', async () => {
    const path = join(dir, 'a')
    const store = await HistoryStore.open(path, { now: () => T0 + 1000 })
    store.addEvent(item(1, '203.0.113.1'))
    store.addEvent(item(2, '203.0.113.2'))
    store.addEvent(item(3, '203.0.113.1', 'unban'))
    store.addRefusal({ received: T0 + 4, reason: 'protected_address', result: 'reject' })
    await store.close()

    const again = await HistoryStore.open(path, { now: () => T0 + 1000 })
    expect(again.address('203.0.113.1').map(e => e.action)).toEqual(['unban', 'ban'])
    expect(again.address('192.0.2.1')).toEqual([])
    const agg = new Aggregator({ now: () => T0 + 1000 })
    for (const e of again.storedEvents()) agg.replay(e)
    for (const r of again.storedRefusals()) agg.refused(r)
    const s = agg.summary()
    expect(s.totals).toEqual({ events: 3, bans: 2, unbans: 1 })
    expect(s.activeBans).toBe(1)
    // the stored country and AS count again without a lookup
    expect(s.topCountries).toEqual([{ key: 'DE', count: 2 }])
    expect(s.topAsns).toEqual([{ key: 'AS3320 Deutsche Telekom AG', count: 2 }])
    expect(s.refused.total).toBe(1)
    expect(s.origins).toMatchObject([{ origin: 'peerA', bans: 2, unbans: 1, topName: 'sshd' }])
    await again.close()
  })

  it('drops the oldest events beyond its cap, and events past the age limit, with their index', async () => {
    const path = join(dir, 'b')
    let now = T0 + 10_000
    const store = await HistoryStore.open(path, { maxEvents: 10, maxAgeMs: 60_000, now: () => now })
    for (let i = 0; i < 1200; i++) store.addEvent(item(i, `198.51.100.${i % 200}`))
    await store.prune()
    expect([...store.storedEvents()]).toHaveLength(10)
    expect([...store.storedEvents()][0]!.received).toBe(T0 + 1190)
    expect(store.address('198.51.100.0')).toEqual([])
    expect(store.address('198.51.100.199')).toHaveLength(1)
    now = T0 + 3_600_000
    await store.prune()
    expect([...store.storedEvents()]).toHaveLength(0)
    await store.close()
  })
})
