import type { FstEvent } from '@fst/protocol'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Batcher } from '../src/mesh/batcher.js'

const ban = (i: number): FstEvent => ({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: `192.0.2.${i}`, time: 1, duration: 0 })

function recording (maxDelayMs: number, maxEvents = 1000) {
  const sent: string[][] = []
  const sign = (events: FstEvent[]) => ({ s: '', proofs: events.map((_, i) => ({ s: '', i, n: events.length, p: '' })) })
  const batcher = new Batcher({ maxDelayMs, maxEvents, sign, publish: async events => { sent.push(events.map(e => e.ip)) } })
  return { sent, batcher }
}

describe('Batcher', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('sends a lone event at once (leading edge), then batches what follows within maxDelayMs', () => {
    const { sent, batcher } = recording(5)
    batcher.add(ban(1))
    expect(sent).toEqual([['192.0.2.1']])
    batcher.add(ban(2))
    batcher.add(ban(3))
    expect(sent).toHaveLength(1)
    vi.advanceTimersByTime(5)
    expect(sent).toEqual([['192.0.2.1'], ['192.0.2.2', '192.0.2.3']])
    // that send opened another window: an event in it waits, and after a quiet window the next goes at once
    batcher.add(ban(4))
    expect(sent).toHaveLength(2)
    vi.advanceTimersByTime(5)
    expect(sent.at(-1)).toEqual(['192.0.2.4'])
    vi.advanceTimersByTime(5)
    batcher.add(ban(5))
    expect(sent.at(-1)).toEqual(['192.0.2.5'])
  })

  it('sends as soon as maxEvents are pending', () => {
    const { sent, batcher } = recording(1000, 3)
    for (let i = 1; i <= 7; i++) batcher.add(ban(i))
    expect(sent.map(b => b.length)).toEqual([1, 3, 3])
  })

  it('sends every event alone when batching is off (maxDelayMs 0)', () => {
    const { sent, batcher } = recording(0)
    for (let i = 1; i <= 3; i++) batcher.add(ban(i))
    expect(sent.map(b => b.length)).toEqual([1, 1, 1])
  })

  it('drain sends what is pending and waits for the publishes', async () => {
    const { sent, batcher } = recording(50)
    batcher.add(ban(1))
    batcher.add(ban(2))
    await batcher.drain()
    expect(sent).toEqual([['192.0.2.1'], ['192.0.2.2']])
    expect(vi.getTimerCount()).toBe(0)
  })
})
