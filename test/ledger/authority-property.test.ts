import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger, liftPolicy, type UnbanAuthority } from '@fst/node'
import { actionFamily, expiresAt, expiryTombstone, isActive, type LedgerEntry, newer, type SignedEntry } from '@fst/protocol'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'

const A = '12D3KooWAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const C = '12D3KooWCccccccccccccccccccccccccccccccccccccccccccc'
const NOW = Date.now()
const proof = { s: '', i: 0, n: 1, p: '' }

const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

function ledgerFor (authority: UnbanAuthority): Ledger {
  const dir = mkdtempSync(join(tmpdir(), 'fst-authority-prop-'))
  dirs.push(dir)
  const l = Ledger.open(join(dir, 'ledger'))
  l.setRules({ self: 'self', maxActivePerOrigin: Infinity, maxRemovalsPerOrigin: Infinity, maxEntries: Infinity, mayEnd: liftPolicy(authority) })
  return l
}

const KEY = 'ban|sshd|203.0.113.9'
/** One origin's report on the one key: a ban (some permanent, some already past their time) or an unban. */
const entry = (origins: readonly string[], actions: readonly string[]) => fc.record({
  origin: fc.constantFrom(...origins),
  action: fc.constantFrom(...actions),
  // within the last 10 s: a 1 s or 3 s ban may be over by NOW, a 3600 s or permanent one is not
  time: fc.integer({ min: NOW - 10_000, max: NOW - 1 }),
  duration: fc.constantFrom(0, 1, 3, 3600)
}).map(({ origin, action, time, duration }): SignedEntry => ({
  action, name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.9', time, duration: action === 'unban' ? 0 : duration, origin, proof
}))

/** Each origin's latest report among `seen` (a ban past its time counts as its expiry tombstone): what that origin says of the key. */
function latestByOrigin (seen: readonly LedgerEntry[]): Map<string, LedgerEntry> {
  const out = new Map<string, LedgerEntry>()
  for (const report of seen) {
    const e = expiresAt(report) <= NOW ? expiryTombstone(report) : report
    const had = out.get(e.origin)
    if (had === undefined || newer(e, had)) out.set(e.origin, e)
  }
  return out
}

/**
 * Issue 26, finding 1: whatever arrives in whatever order (removals, newer bans that are already past their
 * time, shorter bans, longer bans followed by the writer's own unban), a ban stays active until its own expiry
 * unless its origin (or an admin) ends it. Checked after every arrival.
 */
describe('unban authority over random sequences of two origins', () => {
  const cases: Array<{ mode: UnbanAuthority['mode'], admins: string[], cActions: string[] }> = [
    { mode: 'origin', admins: [], cActions: ['ban', 'unban'] },
    { mode: 'admins', admins: [A], cActions: ['ban', 'unban'] },
    // a removal that reaches the ledger in quorum mode has passed its quorum: only C's bans are its own doing
    { mode: 'quorum', admins: [], cActions: ['ban'] }
  ]
  for (const { mode, admins, cActions } of cases) {
    it(`${mode}: no origin that may not lift a ban ever ends it early`, () => {
      const authority: UnbanAuthority = { mode, admins, peers: 2, windowS: 600 }
      const mayLift = liftPolicy(authority)
      fc.assert(fc.property(fc.array(fc.oneof(entry([A], ['ban', 'unban']), entry([C], cActions)), { minLength: 1, maxLength: 8 }), (arrivals) => {
        const ledger = ledgerFor(authority)
        try {
          const seen: LedgerEntry[] = []
          for (const e of arrivals) {
            ledger.applyMany([e], NOW)
            seen.push(e)
            const held = ledger.get(KEY)
            for (const [origin, latest] of latestByOrigin(seen)) {
              if (actionFamily(latest.action).removes || !isActive(latest, NOW)) continue
              // a ban still in its time: the key is banned, unless someone allowed to lift it did
              // ended by right: a later report of someone who may end it (a real unban in quorum mode: the
              // reports are raw, so a ban past its time is still a ban there, not an unban)
              const liftedByRight = seen.some(r => r.origin !== origin && newer(r, latest) && mayLift(r, latest))
              expect(liftedByRight || (held !== undefined && isActive(held, NOW)), `${origin.slice(8, 9)}'s ban ${JSON.stringify(latest)} lifted by ${JSON.stringify(held)}`).toBe(true)
            }
          }
        } finally {
          void ledger.close()
        }
      }), { numRuns: 300 })
    })
  }
})
