import { Socket } from 'node:net'
import { TOPIC } from '@fst/node'
import pWaitFor from 'p-wait-for'
import { afterEach, describe, expect, it } from 'vitest'
import { hostPool } from '../utils/hosts.js'

const pool = hostPool()
afterEach(() => pool.stopAll())
const host = pool.host

/** Counts socket writes as the kernel sees them: one `_write` or one `_writev` (corked chunks) is one syscall. */
function countSocketWrites (): { count: () => number, restore: () => void } {
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>
  const original = { _write: proto._write, _writev: proto._writev }
  let n = 0
  proto._write = function (this: unknown, ...args: unknown[]) { n++; return original._write.apply(this, args) }
  proto._writev = function (this: unknown, ...args: unknown[]) { n++; return original._writev.apply(this, args) }
  return { count: () => n, restore: () => Object.assign(proto, original) }
}

// patches/ (pnpm patchedDependencies): @libp2p/tcp corks a frame's chunks into one writev, @libp2p/yamux
// updates a window once half of it is used. Unpatched, one message costs the sender 2 syscalls (noise's
// length prefix, then the ciphertext) and the receiver 2 more (a window update after every data frame).
describe('libp2p wire patches', () => {
  it('send one gossip message in about one socket write, with no window update per message', async () => {
    const [a, b] = [await host(), await host()]
    await a.dial(b.getMultiaddrs()[0]!)
    await pWaitFor(() => a.services.pubsub.getSubscribers(TOPIC).length === 1 && b.services.pubsub.getSubscribers(TOPIC).length === 1, { interval: 20, timeout: 10_000 })
    let received = 0
    b.services.pubsub.addEventListener('message', () => { received++ })
    const messages = 200
    const writes = countSocketWrites()
    try {
      for (let i = 0; i < messages; i++) {
        await a.services.pubsub.publish(TOPIC, new TextEncoder().encode(`message ${i}`))
        // one at a time, so each message is its own frame
        await pWaitFor(() => received === i + 1, { interval: 1, timeout: 5_000 })
      }
    } finally {
      writes.restore()
    }
    expect(received).toBe(messages)
    // heartbeats may add a few control frames; unpatched this is 4 per message
    expect(writes.count() / messages).toBeLessThan(1.3)
  })
})
