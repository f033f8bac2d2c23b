import { FairQueue, LogThrottle, Membership, PinStore, parsePeersFile, QuorumTracker } from '@fst/node'
import { addressGuard, type FstEvent } from '@fst/protocol'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'

const ban = (ip: string, time: number, action = 'ban'): FstEvent => ({ action, name: 'sshd', protocol: 'tcp', port: '22', ip, time, duration: 0 })

describe('QuorumTracker', () => {
  it('passes at k distinct reporters within the window, never for one reporter repeating itself', () => {
    let now = 1_000_000
    const q = new QuorumTracker({ ban: { peers: 3, windowS: 60 } }, () => now)
    expect(q.admit(ban('203.0.113.1', now), 'A')).toBe('held')
    expect(q.admit(ban('203.0.113.1', now), 'A')).toBe('held')
    expect(q.admit(ban('203.0.113.1', now), 'B')).toBe('held')
    now += 61_000
    // A's and B's reports fell out of the window
    expect(q.admit(ban('203.0.113.1', now), 'C')).toBe('held')
    expect(q.admit(ban('203.0.113.1', now), 'A')).toBe('held')
    expect(q.admit(ban('203.0.113.1', now), 'B')).toBe('pass')
    // the reports stay counted for their window (held reports converge: ledger/held.ts), so a later one passes
    expect(q.pending).toBe(1)
    expect(q.admit(ban('203.0.113.1', now), 'D')).toBe('pass')
  })

  it('lets an unban withdraw a report, and leaves actions without a rule alone', () => {
    const now = 5_000_000
    const q = new QuorumTracker({ ban: { peers: 2, windowS: 60 } }, () => now)
    expect(q.admit(ban('203.0.113.2', now), 'A')).toBe('held')
    expect(q.admit(ban('203.0.113.2', now, 'unban'), 'A')).toBe('pass')
    expect(q.admit(ban('203.0.113.2', now), 'B')).toBe('held')
    expect(q.admit(ban('203.0.113.2', now, 'block'), 'A')).toBe('pass')
  })

  it('holds every removal until k peers made it with unbanAuthority quorum (the removals rule)', () => {
    const now = 7_000_000
    const q = new QuorumTracker({}, () => now, { peers: 2, windowS: 60 })
    expect(q.active).toBe(true)
    expect(q.ruleOf('unban')).toEqual({ peers: 2, windowS: 60 })
    expect(q.ruleOf('ban')).toBeUndefined()
    expect(q.admit(ban('203.0.113.3', now, 'unban'), 'A')).toBe('held')
    expect(q.admit(ban('203.0.113.3', now, 'unban'), 'A')).toBe('held')
    expect(q.admit(ban('203.0.113.3', now, 'unban'), 'B')).toBe('pass')
    expect(q.admit(ban('203.0.113.4', now), 'A')).toBe('pass')
  })

  it('counts a future-dated report from now, so it cannot outlive the window', () => {
    let now = 1_000_000
    const q = new QuorumTracker({ ban: { peers: 2, windowS: 10 } }, () => now)
    expect(q.admit(ban('203.0.113.3', now + 3_600_000), 'A')).toBe('held')
    now += 11_000
    expect(q.admit(ban('203.0.113.3', now), 'B')).toBe('held')
  })
})

describe('FairQueue', () => {
  it('serves lanes round-robin and keeps order within a lane', () => {
    const q = new FairQueue<string>()
    for (let i = 0; i < 1000; i++) q.push('flood', `f${i}`)
    q.push('honest', 'h0')
    expect([q.shift(), q.shift(), q.shift()]).toEqual(['f0', 'h0', 'f1'])
    q.unshift('flood', 'back')
    q.push('other', 'o0')
    expect([q.shift(), q.shift(), q.shift()]).toEqual(['back', 'o0', 'f2'])
    expect(q.size).toBe(997)
  })
})

describe('LogThrottle', () => {
  it('logs at most n lines per reason per interval, then a summary', () => {
    const lines: Array<Record<string, unknown>> = []
    const log = pino({ level: 'warn' }, { write: (s: string) => { lines.push(JSON.parse(s)) } })
    let now = 0
    const t = new LogThrottle(log, 3, 1000, () => now)
    for (let i = 0; i < 100; i++) t.warn('bad_action', { i }, 'message rejected')
    t.warn('stale', {}, 'message ignored')
    expect(lines).toHaveLength(4)
    now = 1000
    t.warn('bad_action', {}, 'message rejected')
    expect(lines.at(-2)).toMatchObject({ reason: 'bad_action', suppressed: 97 })
    expect(lines).toHaveLength(6)
  })
})

describe('never-ban list', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-units-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('protects every configured peer address, not only loopback', async () => {
    const log = pino({ level: 'silent' })
    const membership = new Membership('self', new PinStore(dir), log, { throttle: new LogThrottle(log), onRefused: () => {} })
    await membership.load(parsePeersFile('192.0.2.10:4242 [2001:db8::10]:4242 /ip4/198.51.100.20/tcp/4242', 4242), [4242])
    const guard = addressGuard({ protect: membership.protectedAddresses() })
    for (const ip of ['192.0.2.10', '192.0.2.0/24', '2001:db8::10', '2001:db8::/32', '198.51.100.20', '::ffff:198.51.100.20']) {
      expect(guard.check(ip), ip).toMatchObject({ valid: false, reason: 'protected_address' })
    }
    expect(guard.check('192.0.2.11').valid).toBe(true)
  })
})
