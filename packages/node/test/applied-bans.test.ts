import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expiryTombstone, type LedgerEntry, ledgerKey } from '@fst/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { AppliedBans } from '../src/actions/applied-bans.js'
import { Applier, type JobQueue } from '../src/actions/applier.js'
import type { Job } from '../src/actions/runner.js'

const root = mkdtempSync(join(tmpdir(), 'fst-applied-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const T0 = 1_700_000_000_000
const ban = (ip: string, extra: Partial<LedgerEntry> = {}): LedgerEntry =>
  ({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip, time: T0, duration: 600, origin: 'peerA', ...extra })
const unban = (ip: string): LedgerEntry => ({ ...ban(ip), action: 'unban', time: T0 + 1000, duration: 0 })

/** Records what the applier queues: "action ip" per event. */
class Recorder implements JobQueue {
  readonly jobs: Job[] = []
  enqueue (job: Job): void { this.jobs.push(job) }
  get pending (): number { return this.jobs.length }
  lines (): string[] { return this.jobs.flatMap(j => j.events.map(e => `${j.action} ${e.ip}`)).sort() }
}

describe('AppliedBans', () => {
  it('keeps the bans whose scripts ran, forgets those whose removal ran, across a reopen', async () => {
    const dir = join(root, 'store')
    const store = await AppliedBans.load(dir)
    store.ran({ action: 'ban', origin: 'peerA', events: [ban('203.0.113.1'), ban('203.0.113.2'), ban('203.0.113.3')] })
    store.ran({ action: 'unban', origin: 'peerA', events: [unban('203.0.113.2')] })
    await store.close()
    const again = await AppliedBans.load(dir)
    expect([...again.entries()].map(([key, e]) => [key, e.ip])).toEqual([
      [ledgerKey(ban('203.0.113.1')), '203.0.113.1'],
      [ledgerKey(ban('203.0.113.3')), '203.0.113.3']
    ])
    await again.close()
  })
})

describe('Applier.reconcile', () => {
  // in the ledger: .1 active and applied, .2 active and never applied (killed while queued), .3 unbanned after
  // being applied (its unban never ran), .4 applied and since pruned, .5 applied and past its time (not swept)
  const ledger = new Map<string, LedgerEntry>([ban('203.0.113.1'), ban('203.0.113.2'), unban('203.0.113.3'), ban('203.0.113.5', { duration: 1 })].map(e => [ledgerKey(e), e]))
  const applied = ['203.0.113.1', '203.0.113.3', '203.0.113.4', '203.0.113.5'].map(ip => [ledgerKey(ban(ip)), ban(ip)] as [string, LedgerEntry])
  const state = (reapplyAll: boolean) => ({
    active: [ban('203.0.113.1'), ban('203.0.113.2')],
    applied,
    entryOf: (key: string) => ledger.get(key),
    reapplyAll
  })

  it('runs the bans not applied and the removals not run, and nothing already in force', () => {
    const runner = new Recorder()
    expect(new Applier(runner).reconcile(state(false))).toEqual({ bans: 1, removals: 2 })
    expect(runner.lines()).toEqual(['ban 203.0.113.2', 'unban 203.0.113.3', 'unban 203.0.113.4'])
    // the removal of a pruned key carries the ban's expiry tombstone; a held removal is passed as it is
    const events = runner.jobs.flatMap(j => j.events)
    expect(events.find(e => e.ip === '203.0.113.4')).toEqual(expiryTombstone(ban('203.0.113.4')))
    expect(events.find(e => e.ip === '203.0.113.3')).toEqual(unban('203.0.113.3'))
  })

  it('with reapplyOnStart runs every active ban again', () => {
    const runner = new Recorder()
    expect(new Applier(runner).reconcile(state(true))).toEqual({ bans: 2, removals: 2 })
    expect(runner.lines()).toEqual(['ban 203.0.113.1', 'ban 203.0.113.2', 'unban 203.0.113.3', 'unban 203.0.113.4'])
  })
})
