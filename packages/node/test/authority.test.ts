import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FstEvent, SignedEntry } from '@fst/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { Ledger } from '../src/ledger/store.js'
import { liftPolicy } from '../src/trust/authority.js'

const A = '12D3KooWAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const C = '12D3KooWCccccccccccccccccccccccccccccccccccccccccccc'
const NOW = Date.now()
const proof = { s: '', i: 0, n: 1, p: '' }
const ev = (action: string, time: number, origin: string, over: Partial<FstEvent> = {}): SignedEntry =>
  ({ action, name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.9', time, duration: 0, origin, proof, ...over })

const dirs: string[] = []
const ledgers: Ledger[] = []
function ledger (mode: 'any' | 'origin' | 'admins', admins: string[] = [], maxActivePerOrigin = Infinity): Ledger {
  const dir = mkdtempSync(join(tmpdir(), 'fst-authority-'))
  dirs.push(dir)
  const l = Ledger.open(join(dir, 'ledger'))
  l.setRules({ self: 'self', maxActivePerOrigin, maxRemovalsPerOrigin: Infinity, maxEntries: Infinity, mayEnd: liftPolicy({ mode, admins, peers: 2, windowS: 600 }) })
  ledgers.push(l)
  return l
}
afterEach(async () => {
  await Promise.all(ledgers.splice(0).map(l => l.close()))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('unban authority in the ledger', () => {
  it('with origin: another peer\'s later unban lifts nothing, in either arrival order', () => {
    const ban = ev('ban', NOW - 2000, A)
    const unban = ev('unban', NOW - 1000, C)
    for (const order of [[ban, unban], [unban, ban]]) {
      const l = ledger('origin')
      const refused: string[] = []
      for (const e of order) l.applyMany([e], NOW, reason => refused.push(reason))
      expect(l.active().map(e => e.origin)).toEqual([A])
    }
    // the origin's own unban works
    const l = ledger('origin')
    l.applyMany([ban, ev('unban', NOW - 1000, A)], NOW)
    expect(l.active()).toEqual([])
  })

  it('with origin: a newer ban of another origin that is already past its time ends nothing, and is counted', () => {
    // the red team's bypass: C's own ban of A's key, 1 ms later than A's, 1 s long, long over
    const ban = ev('ban', NOW - 5000, A)
    const bypass = ev('ban', NOW - 4999, C, { duration: 1 })
    for (const order of [[ban, bypass], [bypass, ban]]) {
      const l = ledger('origin')
      const refused: string[] = []
      const changes = order.flatMap(e => l.applyMany([e], NOW, reason => refused.push(reason)))
      expect(l.active().map(e => e.origin)).toEqual([A])
      expect(changes.filter(c => c.wasActive && !c.isActive)).toEqual([])
      if (order[0] === ban) expect(refused).toEqual(['unban_not_authorized'])
    }
  })

  it('with origin: a longer ban of another origin, then its own unban, leaves the first ban standing', () => {
    const l = ledger('origin')
    l.applyMany([ev('ban', NOW - 5000, A, { duration: 3600 }), ev('ban', NOW - 4000, C, { duration: 7200 })], NOW)
    expect(l.active().map(e => e.origin)).toEqual([C])
    const lifted = l.applyMany([ev('unban', NOW - 3000, C)], NOW)
    // A's ban takes over: the key never stops being banned, so no unban runs
    expect(lifted.filter(c => c.wasActive !== c.isActive)).toEqual([])
    expect(l.active().map(e => e.origin)).toEqual([A])
  })

  it('with origin: a shorter ban of another origin is held in front until it ends, then the longer one takes over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fst-authority-'))
    dirs.push(dir)
    const first = Ledger.open(join(dir, 'ledger'))
    first.setRules({ self: 'self', maxActivePerOrigin: Infinity, maxRemovalsPerOrigin: Infinity, maxEntries: Infinity, mayEnd: liftPolicy({ mode: 'origin', admins: [], peers: 2, windowS: 600 }) })
    const [change] = first.applyMany([ev('ban', NOW - 5000, A, { duration: 3600 }), ev('ban', NOW - 4000, C, { duration: 60 })], NOW)
    await change?.written
    expect(first.active().map(e => e.origin)).toEqual([A])
    await first.close()
    // the standing ban behind the held one survives a restart
    const l = Ledger.open(join(dir, 'ledger'))
    ledgers.push(l)
    l.setRules({ self: 'self', maxActivePerOrigin: Infinity, maxRemovalsPerOrigin: Infinity, maxEntries: Infinity, mayEnd: liftPolicy({ mode: 'origin', admins: [], peers: 2, windowS: 600 }) })
    expect(l.rivalsOf('ban|sshd|203.0.113.9').map(e => e.origin)).toEqual([C])
    // A lifts its own ban: C's, still in its time, takes over; when C's ends, the key is free
    expect(l.applyMany([ev('unban', NOW - 3000, A)], NOW).filter(c => c.wasActive !== c.isActive)).toEqual([])
    expect(l.active().map(e => e.origin)).toEqual([C])
    expect(l.expire(NOW + 61_000).map(x => x.ban.origin)).toEqual([C])
    expect(l.active({}, NOW + 61_000)).toEqual([])
  })

  it('with admins: an admin may lift any ban; with any: everyone may', () => {
    const l = ledger('admins', [C])
    l.applyMany([ev('ban', NOW - 2000, A), ev('unban', NOW - 1000, C)], NOW)
    expect(l.active()).toEqual([])
    const m = ledger('any')
    m.applyMany([ev('ban', NOW - 2000, A), ev('unban', NOW - 1000, C)], NOW)
    expect(m.active()).toEqual([])
  })

  it('bounds the bans one other origin holds, and counts the refusals', () => {
    const l = ledger('any', [], 3)
    const refused: string[] = []
    l.applyMany(Array.from({ length: 5 }, (_, i) => ev('ban', NOW - 1000, A, { ip: `203.0.113.${i}` })), NOW, r => refused.push(r))
    expect(l.bansOf(A)).toBe(3)
    expect(refused).toEqual(['origin_limit', 'origin_limit'])
    // an update of a key it holds is not a new one; its own node is not bounded
    l.applyMany([ev('ban', NOW - 500, A, { ip: '203.0.113.0', duration: 600 })], NOW, r => refused.push(r))
    l.applyMany(Array.from({ length: 5 }, (_, i) => ev('ban', NOW - 1000, 'self', { ip: `198.51.100.${i}` })), NOW, r => refused.push(r))
    expect(refused).toHaveLength(2)
    expect(l.bansOf('self')).toBe(5)
  })
})

describe('bounds on every kind of entry (issue 26, finding 2)', () => {
  function bounded (maxRemovalsPerOrigin: number, maxEntries = Infinity): { l: Ledger, evicted: string[] } {
    const dir = mkdtempSync(join(tmpdir(), 'fst-bounds-'))
    dirs.push(dir)
    const l = Ledger.open(join(dir, 'ledger'))
    ledgers.push(l)
    const evicted: string[] = []
    l.setRules({ self: 'self', maxActivePerOrigin: Infinity, maxRemovalsPerOrigin, maxEntries, mayEnd: liftPolicy({ mode: 'origin', admins: [], peers: 2, windowS: 600 }), onEvicted: o => evicted.push(o) })
    return { l, evicted }
  }
  const ip = (i: number) => `2001:db8::${i.toString(16)}`

  it('keeps each origin\'s newest removals: a flood of unbans of keys nobody banned stays at the bound', () => {
    const { l, evicted } = bounded(1000)
    const refused: string[] = []
    // 5,000 unbans of never-held keys, newest last, then 1,000 older ones
    l.applyMany(Array.from({ length: 5000 }, (_, i) => ev('unban', NOW - 10_000 + i, C, { ip: ip(i) })), NOW, r => refused.push(r))
    expect(l.size).toBe(1000)
    expect(evicted).toHaveLength(4000)
    expect(Math.min(...l.list({ all: true }).map(e => e.time))).toBe(NOW - 10_000 + 4000)
    l.applyMany(Array.from({ length: 1000 }, (_, i) => ev('unban', NOW - 20_000 + i, C, { ip: ip(10_000 + i) })), NOW, r => refused.push(r))
    expect(refused).toEqual(Array(1000).fill('removal_limit'))
    expect(l.size).toBe(1000)
    // another origin's removals are not pushed out by C's
    l.applyMany([ev('unban', NOW - 30_000, A, { ip: ip(99_999) })], NOW)
    expect(l.size).toBe(1001)
  })

  it('never refuses the removal of a ban it holds, and never drops a ban to make room', () => {
    const { l } = bounded(1000)
    l.applyMany(Array.from({ length: 1000 }, (_, i) => ev('unban', NOW - 5000 + i, C, { ip: ip(i) })), NOW)
    l.applyMany([ev('ban', NOW - 60_000, C, { ip: '198.51.100.7', duration: 3600 })], NOW)
    const [lift] = l.applyMany([ev('unban', NOW - 50_000, C, { ip: '198.51.100.7' })], NOW)
    expect(lift?.wasActive && !lift.isActive).toBe(true)
    expect(l.size).toBe(1000)
  })

  it('refuses new keys of other origins past maxLedgerEntries, never its own', () => {
    const { l } = bounded(Infinity, 3)
    const refused: string[] = []
    l.applyMany([1, 2, 3, 4].map(i => ev('ban', NOW - 1000, A, { ip: ip(i) })), NOW, r => refused.push(r))
    expect(refused).toEqual(['ledger_full'])
    l.apply({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: ip(5), time: NOW, duration: 0 }, 'self', NOW)
    expect(l.size).toBe(4)
  })
})
