import { describe, expect, it } from 'vitest'
import { type AckedBan, deliveryVerdict, type Life, ledgerVerdict, pooledSlope, type ScriptRun, slope } from './soak-verdict.js'

const S = 1000

describe('soak slopes', () => {
  it('fits a straight line exactly, in y units per hour', () => {
    expect(slope([{ t: 0, y: 100 }, { t: 0.5, y: 101 }, { t: 1, y: 102 }])).toBeCloseTo(2, 10)
    expect(slope([{ t: 0.2, y: 80 }, { t: 0.4, y: 80 }, { t: 0.9, y: 80 }])).toBe(0)
  })

  it('has no slope from one point or one time', () => {
    expect(slope([{ t: 1, y: 5 }])).toBeNull()
    expect(slope([{ t: 1, y: 5 }, { t: 1, y: 9 }])).toBeNull()
  })

  it('does not read the drop of a restart as a trend: each life keeps its own level', () => {
    // two lives, each flat; a naive fit over both sees a fall of ~40 MB/h
    const first = [{ t: 0, y: 120 }, { t: 0.25, y: 120 }, { t: 0.5, y: 120 }]
    const second = [{ t: 0.6, y: 90 }, { t: 0.8, y: 90 }, { t: 1, y: 90 }]
    expect(slope([...first, ...second])!).toBeLessThan(-30)
    expect(pooledSlope([first, second])).toBe(0)
    // both growing 3 MB/h from different levels
    expect(pooledSlope([[{ t: 0, y: 100 }, { t: 1, y: 103 }], [{ t: 2, y: 80 }, { t: 3, y: 83 }]])).toBeCloseTo(3, 10)
  })
})

describe('soak delivery verdict', () => {
  // node 1 up the whole minute; node 2 down from 20 s to 40 s (two lives)
  const lives: Life[] = [
    { node: 1, run: 1, fromMs: 0, toMs: 60 * S },
    { node: 2, run: 2, fromMs: 0, toMs: 20 * S, killed: true },
    { node: 2, run: 3, fromMs: 40 * S, toMs: 60 * S }
  ]
  const ban = (ip: string, fromS: number, toS: number): AckedBan => ({ ip, origin: 0, availableMs: fromS * S, endMs: toS * S })
  const run = (node: number, life: number, action: ScriptRun['action'], ip: string): ScriptRun => ({ node, run: life, action, ip })

  it('counts a ban that did not run in the life of a node that held its end as lost', () => {
    // node 2 ran it in its first life, and its second life's start re-applied it; node 1 never ran it
    const v = deliveryVerdict([ban('a', 1, 50)], lives, [run(2, 2, 'ban', 'a'), run(2, 3, 'ban', 'a')], 5 * S)
    expect(v.expected).toBe(2)
    expect(v.lost).toBe(1)
    expect(v.examples.lost[0]).toContain('node 1')
    // without the re-apply, node 2's second life lacks it too
    expect(deliveryVerdict([ban('a', 1, 50)], lives, [run(2, 2, 'ban', 'a')], 5 * S).lost).toBe(2)
  })

  it('counts a ban a kill dropped, which ended while the node was down, apart from the lost', () => {
    // live 1-30 s: node 2 had it for 19 s of its first life, died at 20 s and came back after its end
    const v = deliveryVerdict([ban('g', 1, 30)], lives, [run(1, 1, 'ban', 'g'), run(1, 1, 'unban', 'g')], 5 * S)
    expect(v).toMatchObject({ expected: 1, lost: 0, droppedByKill: 1 })
  })

  it('counts an unban a kill dropped apart from one a living node never ran', () => {
    const runs = [run(1, 1, 'ban', 'h'), run(2, 2, 'ban', 'h')]
    const v = deliveryVerdict([ban('h', 1, 10)], lives, runs, 5 * S)
    expect(v.unbanLost).toBe(1)
    expect(v.unbanDroppedByKill).toBe(1)
  })

  it('owes nothing to a node that was down for all of the ban but a moment, nor to the origin', () => {
    // live 22-38 s: node 2 was down throughout; node 1 had it
    const v = deliveryVerdict([ban('b', 22, 38)], lives, [run(1, 1, 'ban', 'b'), run(1, 1, 'unban', 'b')], 5 * S)
    expect(v).toMatchObject({ expected: 1, lost: 0, duplicated: 0, unexpected: 0, unbanLost: 0 })
  })

  it('counts two runs in one life as a duplicate, and a run in a later life as the re-apply', () => {
    const runs = [run(1, 1, 'ban', 'c'), run(1, 1, 'ban', 'c'), run(2, 2, 'ban', 'c'), run(2, 3, 'ban', 'c')]
    const v = deliveryVerdict([ban('c', 1, 100)], lives, runs, 5 * S)
    expect(v.duplicated).toBe(1)
    expect(v.reapplied).toBe(1)
    expect(v.lost).toBe(0)
  })

  it('wants the unban in the life that ran the ban, once it had time to arrive', () => {
    const runs = [run(1, 1, 'ban', 'd'), run(2, 2, 'ban', 'e')]
    // d ended at 10 s with node 1 up until 60 s: its unban is missing; e ended as node 2's life ended
    const v = deliveryVerdict([ban('d', 1, 10), ban('e', 1, 18)], lives, [...runs, run(1, 1, 'ban', 'e'), run(1, 1, 'unban', 'e')], 5 * S)
    expect(v.unbanLost).toBe(1)
    expect(v.examples.unbanLost[0]).toContain('d ')
  })

  it('counts runs for unacknowledged reports and on the origin apart', () => {
    const v = deliveryVerdict([ban('f', 1, 50)], lives, [run(1, 1, 'ban', 'f'), run(2, 2, 'ban', 'f'), run(2, 3, 'ban', 'f'), run(1, 1, 'ban', 'zz'), run(0, 9, 'ban', 'f')], 5 * S)
    expect(v.unexpected).toBe(2)
    expect(v.lost).toBe(0)
  })
})

describe('soak ledger verdict', () => {
  it('wants every ban in every ledger, active until its end and a removal after it', () => {
    const bans: AckedBan[] = [
      { ip: 'live', origin: 0, availableMs: 0, endMs: 100 * S },
      { ip: 'gone', origin: 0, availableMs: 0, endMs: 10 * S },
      { ip: 'edge', origin: 0, availableMs: 0, endMs: 49 * S }
    ]
    const good = new Map([['live', { action: 'ban' }], ['gone', { action: 'unban' }], ['edge', { action: 'ban' }]])
    const bad = new Map([['live', { action: 'unban' }], ['edge', { action: 'unban' }]])
    const v = ledgerVerdict(bans, [good, bad], 50 * S, 5 * S)
    // 'gone' ended long ago: its tombstone may have been evicted; 'live' in the bad ledger is a removal
    expect(v.missing).toBe(0)
    expect(v.evicted).toBe(1)
    expect(ledgerVerdict(bans, [new Map()], 50 * S, 5 * S)).toMatchObject({ missing: 2, evicted: 1 })
    // the edge case ended within the margin of the check: either state is right
    expect(v.wrong).toBe(1)
  })
})
