import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SETTLE_TIMING, settleWhenQuiet } from '../src/catchup/settle.js'

/**
 * The settle pull after a connect (catchup/settle.ts): at 10 s when the ledger is quiet, after a wave when one
 * is going through it (a mid-wave pull cost a quarter of the throughput), and never later than 60 s.
 */
describe('settleWhenQuiet', () => {
  let changes = 0
  let feeder: NodeJS.Timeout | undefined
  /** Ledger changes at `perS` a second, in steps of 100 ms, until `untilMs` from now. */
  const feed = (perS: number, untilMs = Infinity) => {
    const start = Date.now()
    feeder = setInterval(() => {
      if (Date.now() - start < untilMs) changes += perS / 10
    }, 100)
  }
  /** When `run` was called, in ms after the connect; null if never within 120 s. */
  const runAt = async (): Promise<number | null> => {
    const start = Date.now()
    let at: number | null = null
    settleWhenQuiet(SETTLE_TIMING, () => changes, () => { at = Date.now() - start })
    for (let i = 0; i < 1200 && at === null; i++) await vi.advanceTimersByTimeAsync(100)
    return at
  }

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    changes = 0
  })
  afterEach(() => {
    clearInterval(feeder)
    vi.useRealTimers()
  })

  it('pulls 10 s after the connect at a fail2ban fleet\'s rates (the soak\'s 50 changes a second)', async () => {
    feed(50)
    expect(await runAt()).toBe(10_000)
  })

  it('waits for a wave of 10,000 changes a second to pass, then pulls within a second or two', async () => {
    feed(10_000, 25_000)
    const at = await runAt()
    expect(at).toBeGreaterThan(25_000)
    expect(at).toBeLessThanOrEqual(27_000)
  })

  it('pulls at the latest 60 s after the connect, however long the wave', async () => {
    feed(10_000)
    expect(await runAt()).toBe(60_000)
  })

  it('a cancelled pull never runs', async () => {
    let ran = false
    const cancel = settleWhenQuiet(SETTLE_TIMING, () => changes, () => { ran = true })
    await vi.advanceTimersByTimeAsync(5000)
    cancel()
    await vi.advanceTimersByTimeAsync(70_000)
    expect(ran).toBe(false)
  })
})
