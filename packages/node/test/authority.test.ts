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
  l.setRules({ self: 'self', maxActivePerOrigin, mayLift: liftPolicy({ mode, admins, peers: 2, windowS: 600 }) })
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
