import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FstEvent } from '@fst/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isActive, type LedgerEntry, ledgerKey, newer } from '@fst/protocol'
import { Ledger } from '../src/ledger/store.js'

const T = 1_700_000_000_000
const ev = (action: string, time: number, extra: Partial<FstEvent> = {}): FstEvent =>
  ({ action, name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.7', time, duration: 0, ...extra })

/** Events for one key and a neighbour key, with ties on time, origin and action to exercise every rule. */
const EVENTS: Array<[FstEvent, string]> = [
  [ev('ban', T), 'peerA'],
  [ev('unban', T), 'peerA'],
  [ev('ban', T), 'peerB'],
  [ev('ban', T, { port: '2222' }), 'peerB'],
  [ev('ban', T, { duration: 60 }), 'peerB'],
  [ev('unban', T - 5), 'peerC'],
  [ev('ban', T + 1, { name: 'nginx' }), 'peerA'],
  [ev('unban', T, { name: 'nginx' }), 'peerC']
]

function permutations<X> (items: X[]): X[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map(rest => [item, ...rest]))
}

/** The rule applied as the ledger applies it, in memory. */
function fold (order: Array<[FstEvent, string]>): Map<string, LedgerEntry> {
  const state = new Map<string, LedgerEntry>()
  for (const [event, origin] of order) {
    const entry = { ...event, origin }
    const previous = state.get(ledgerKey(event))
    if (previous === undefined || newer(entry, previous)) state.set(ledgerKey(event), entry)
  }
  return state
}

describe('the convergence rule', () => {
  it('gives the same result for every order of the same events', () => {
    const expected = [...fold(EVENTS)].sort()
    let orders = 0
    for (const order of permutations(EVENTS)) {
      expect([...fold(order)].sort()).toEqual(expected)
      orders++
    }
    expect(orders).toBe(40_320)
  })

  it('prefers the later time, then the higher origin, then the removal', () => {
    const winner = fold(EVENTS)
    // time T ties between peerA and peerB: peerB wins; among peerB's, the order is total but arbitrary
    expect(winner.get('ban|sshd|203.0.113.7')).toMatchObject({ origin: 'peerB', action: 'ban' })
    expect(winner.get('ban|nginx|203.0.113.7')).toMatchObject({ origin: 'peerA', time: T + 1 })
    const ban = { ...ev('ban', T), origin: 'p' }
    const unban = { ...ev('unban', T), origin: 'p' }
    expect(newer(unban, ban)).toBe(true)
    expect(newer(ban, unban)).toBe(false)
    expect(newer(ban, { ...ban })).toBe(false)
  })

  it('shares one key between an action and its undo', () => {
    expect(ledgerKey(ev('ban', T))).toBe(ledgerKey(ev('unban', T)))
    expect(ledgerKey(ev('ban', T))).not.toBe(ledgerKey(ev('nullroute', T)))
  })

  it('treats removed and expired entries as inactive', () => {
    expect(isActive({ ...ev('ban', T, { duration: 0 }), origin: 'p' }, T + 1e12)).toBe(true)
    expect(isActive({ ...ev('ban', T, { duration: 60 }), origin: 'p' }, T + 59_000)).toBe(true)
    expect(isActive({ ...ev('ban', T, { duration: 60 }), origin: 'p' }, T + 60_000)).toBe(false)
    expect(isActive({ ...ev('unban', T), origin: 'p' }, T)).toBe(false)
  })
})

describe('Ledger (LMDB)', () => {
  let dir: string
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'fst-ledger-')) })
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it('converges to the same entries from opposite orders, reports changes, and survives a reopen', async () => {
    const forward = Ledger.open(join(dir, 'forward'))
    const backward = Ledger.open(join(dir, 'backward'))
    for (const [event, origin] of EVENTS) forward.apply(event, origin, T)
    for (const [event, origin] of [...EVENTS].reverse()) backward.apply(event, origin, T)
    const sorted = (l: Ledger) => [...l.values()].sort((a, b) => ledgerKey(a).localeCompare(ledgerKey(b)))
    expect(sorted(forward)).toEqual(sorted(backward))
    expect(forward.size).toBe(2)

    const change = forward.apply(ev('unban', T + 10), 'peerA', T)
    expect(change).toMatchObject({ wasActive: true, isActive: false })
    await change?.written
    expect(forward.apply(ev('ban', T + 5), 'peerZ', T)).toBeNull()
    await forward.close()
    await backward.close()

    const reopened = Ledger.open(join(dir, 'forward'))
    expect(reopened.get('ban|sshd|203.0.113.7')).toMatchObject({ action: 'unban', time: T + 10, origin: 'peerA' })
    await reopened.close()
  })

  it('returns each expired entry once, replaced by its tombstone', async () => {
    const ledger = Ledger.open(join(dir, 'expiry'))
    const now = Date.now()
    ledger.apply(ev('ban', now, { duration: 1 }), 'peerA', now)
    ledger.apply(ev('ban', now, { duration: 0, ip: '203.0.113.8' }), 'peerA', now)
    expect(ledger.expire(now)).toEqual([])
    expect(ledger.expire(now + 1000).map(e => e.ban.ip)).toEqual(['203.0.113.7'])
    expect(ledger.expire(now + 2000)).toEqual([])
    expect(ledger.get(ledgerKey(ev('ban', now)))).toMatchObject({ action: 'unban', time: now + 1000, origin: 'peerA' })
    expect(ledger.active({}, now + 2000).map(e => e.ip)).toEqual(['203.0.113.8'])
    await ledger.close()
  })

  it('runs the unban once when the origin\'s unban arrives after the expiry time but before the sweep', async () => {
    const ledger = Ledger.open(join(dir, 'expiry-race'))
    const now = Date.now()
    ledger.apply(ev('ban', now, { duration: 1 }), 'peerA', now)
    // the origin's own unban, issued at expiry, arrives before this node's sweeper has looked
    const change = ledger.apply(ev('unban', now + 1000), 'peerA', now + 1100)
    expect(change).toMatchObject({ wasActive: true, isActive: false })
    // and the sweeper then has nothing left to unban: exactly once
    expect(ledger.expire(now + 1200)).toEqual([])
    await ledger.close()
  })
})
