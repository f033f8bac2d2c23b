import pWaitFor from 'p-wait-for'
import { afterEach, describe, expect, it } from 'vitest'
import { hostPool } from '../utils/hosts.js'

const pool = hostPool()
afterEach(() => pool.stopAll())

/** What LivenessMonitor reads from a yamux connection (packages/node/src/liveness.ts). */
interface PatchedMuxer {
  lastReceivedAt?: number
  ping: (options: { signal: AbortSignal }) => Promise<number>
}
const muxerOf = (conn: unknown) => (conn as { muxer: PatchedMuxer }).muxer

describe('liveness on a real connection', () => {
  // the monitor skips connections the peer sent something on; this is the patched yamux field it relies on,
  // and it fails if a yamux upgrade drops the patch (pings would then go out on every connection again)
  it('a yamux connection records when the peer last sent something', async () => {
    const [a, b] = [await pool.host(), await pool.host()]
    const conn = await a.dial(b.getMultiaddrs()[0]!)
    const muxer = muxerOf(conn)
    await pWaitFor(() => b.getConnections(a.peerId).length === 1, { interval: 10, timeout: 5000 })
    const ping = () => muxerOf(b.getConnections(a.peerId)[0]).ping({ signal: AbortSignal.timeout(5000) })
    // yamux's own first ping may still be under way, and a ping asked for meanwhile shares its answer
    await ping()
    muxer.lastReceivedAt = 0
    // b pings a over the same connection: a hears b
    const before = Date.now()
    await ping()
    expect(muxer.lastReceivedAt).toBeGreaterThanOrEqual(before)
  })
})
