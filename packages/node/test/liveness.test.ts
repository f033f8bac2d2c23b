import type { Connection } from '@libp2p/interface'
import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { LivenessMonitor } from '../src/mesh/liveness.js'

interface FakeConnection {
  conn: Connection
  pings: number
  aborted: Error | null
  /** Records a frame from the peer now, as FST's yamux patch does. */
  hear: () => void
}

/** A connection whose yamux-style ping answers at once, or never. */
function connection (id: string, answers = true): FakeConnection {
  const fake: FakeConnection = { conn: null as unknown as Connection, pings: 0, aborted: null, hear: () => {} }
  fake.conn = {
    status: 'open',
    remotePeer: { toString: () => id },
    remoteAddr: { toString: () => `/ip4/10.77.0.9/tcp/4242/p2p/${id}` },
    muxer: {
      ping: ({ signal }: { signal: AbortSignal }) => {
        fake.pings++
        if (answers) return Promise.resolve(1)
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      }
    },
    abort: (err: Error) => {
      fake.aborted = err
      Object.assign(fake.conn, { status: 'closed' })
    }
  } as unknown as Connection
  fake.hear = () => { (fake.conn as unknown as { muxer: { lastReceivedAt: number } }).muxer.lastReceivedAt = Date.now() }
  return fake
}

const monitors: LivenessMonitor[] = []
afterEach(() => {
  for (const m of monitors.splice(0)) m.stop()
  vi.useRealTimers()
})

function monitor (connections: FakeConnection[], intervalMs: number, timeoutMs = 5000): LivenessMonitor {
  const m = new LivenessMonitor({
    host: { getConnections: () => connections.map(c => c.conn).filter(c => c.status === 'open') },
    intervalMs,
    timeout: { minTimeout: timeoutMs, maxTimeout: timeoutMs },
    log: pino({ level: 'silent' })
  })
  monitors.push(m)
  m.start()
  return m
}

describe('LivenessMonitor', () => {
  it('pings the connections one at a time, evenly spread, each once per interval', async () => {
    vi.useFakeTimers()
    const conns = ['a', 'b', 'c', 'd'].map(id => connection(id))
    monitor(conns, 1000)
    const counts = () => conns.map(c => c.pings)
    await vi.advanceTimersByTimeAsync(250)
    expect(counts()).toEqual([1, 0, 0, 0])
    await vi.advanceTimersByTimeAsync(250)
    expect(counts()).toEqual([1, 1, 0, 0])
    await vi.advanceTimersByTimeAsync(500)
    expect(counts()).toEqual([1, 1, 1, 1])
    await vi.advanceTimersByTimeAsync(10_000)
    expect(counts()).toEqual([11, 11, 11, 11])
    expect(conns.every(c => c.aborted === null)).toBe(true)
  })

  it('aborts every connection that stops answering, and none that answers', async () => {
    const alive = connection('alive')
    const dead = [connection('gone1', false), connection('gone2', false)]
    monitor([alive, ...dead], 60, 40)
    await vi.waitFor(() => expect(dead.every(c => c.aborted !== null)).toBe(true), { timeout: 2000, interval: 10 })
    expect(dead.every(c => c.aborted?.name === 'TimeoutError')).toBe(true)
    expect(alive.aborted).toBeNull()
    expect(alive.pings).toBeGreaterThan(0)
  })

  it('skips a connection the peer sent something on within the interval, and pings it once the peer is quiet', async () => {
    vi.useFakeTimers()
    const busy = connection('busy')
    const quiet = connection('quiet')
    monitor([busy, quiet], 1000)
    // the busy peer sends every 100 ms for 3 s: its connection is never pinged, the quiet one every second
    for (let t = 0; t < 3000; t += 100) {
      busy.hear()
      await vi.advanceTimersByTimeAsync(100)
    }
    expect(busy.pings).toBe(0)
    expect(quiet.pings).toBe(3)
    // silent for a whole interval: pinged again on its next turn
    await vi.advanceTimersByTimeAsync(2000)
    expect(busy.pings).toBeGreaterThanOrEqual(1)
  })

  it('still aborts a connection whose peer went quiet and stopped answering', async () => {
    const gone = connection('gone', false)
    gone.hear()
    monitor([gone], 60, 40)
    await vi.waitFor(() => expect(gone.aborted?.name).toBe('TimeoutError'), { timeout: 2000, interval: 10 })
    expect(gone.pings).toBe(1)
  })

  it('stops pinging after stop()', async () => {
    vi.useFakeTimers()
    const conns = [connection('a')]
    const m = monitor(conns, 100)
    await vi.advanceTimersByTimeAsync(100)
    m.stop()
    await vi.advanceTimersByTimeAsync(1000)
    expect(conns[0]!.pings).toBe(1)
  })
})
