import { dedupeConnections, type Host, TOPIC } from '@fst/node'
import pWaitFor from 'p-wait-for'
import { afterEach, describe, expect, it } from 'vitest'
import { hostPool } from '../utils/hosts.js'

const pool = hostPool()
afterEach(() => pool.stopAll())
const host = pool.host

/** Waits until each of two hosts knows the other as subscribed to the topic. */
async function subscribedToEachOther (a: Host, b: Host): Promise<void> {
  await pWaitFor(() => a.services.pubsub.getSubscribers(TOPIC).length === 1 && b.services.pubsub.getSubscribers(TOPIC).length === 1, { interval: 20, timeout: 10_000 })
}

/** Two hosts, `a` dialled `b`: one connection, gossip both ways. */
async function connected (): Promise<[Host, Host]> {
  const [a, b] = [await host(), await host()]
  await a.dial(b.getMultiaddrs()[0]!)
  await subscribedToEachOther(a, b)
  return [a, b]
}

/** Two hosts that dialled each other: two connections between them, as when two members start together. */
async function doublyConnected (): Promise<[Host, Host]> {
  const [a, b] = [await host(), await host()]
  await a.dial(b.getMultiaddrs()[0]!)
  await b.dial(a.getMultiaddrs()[0]!)
  await subscribedToEachOther(a, b)
  expect(a.getConnections()).toHaveLength(2)
  return [a, b]
}

/** Publishes from `from` until `to` receives one (at most ~5 s): true when one arrived. */
async function delivers (from: Host, to: Host): Promise<boolean> {
  let received = 0
  const count = () => { received++ }
  to.services.pubsub.addEventListener('message', count)
  try {
    for (let attempt = 0; attempt < 250 && received === 0; attempt++) {
      await from.services.pubsub.publish(TOPIC, new TextEncoder().encode(`probe ${attempt} ${Math.random()}`))
      await pWaitFor(() => received > 0, { interval: 5, timeout: 20 }).catch(() => {})
    }
    return received > 0
  } finally {
    to.services.pubsub.removeEventListener('message', count)
  }
}

describe('two connections to one peer', () => {
  for (const side of ['outbound', 'inbound'] as const) {
    it(`gossip flows both ways after the connection carrying a's ${side} gossip stream closes`, async () => {
      const [a, b] = await doublyConnected()
      const carrying = a.getConnections().find(c => c.streams.some(s => s.protocol?.startsWith('/meshsub/') === true && s.direction === side))
      expect(carrying).toBeDefined()
      await carrying!.close()
      await pWaitFor(() => a.getConnections().length === 1 && b.getConnections().length === 1, { interval: 10, timeout: 5000 })
      expect(await delivers(a, b)).toBe(true)
      expect(await delivers(b, a)).toBe(true)
    })
  }
})

/** gossipsub's own way of forgetting a peer (what a failed stream read does), which the type does not expose. */
function forget (host: Host, peer: Host): void {
  (host.services.pubsub as unknown as { removePeer (id: unknown): void }).removePeer(peer.peerId)
}

describe('one connection, gossip state lost', () => {
  it('reopens the gossip streams when both ends forgot each other while staying connected', async () => {
    const [a, b] = await connected()
    forget(a, b)
    forget(b, a)
    expect(a.services.pubsub.getSubscribers(TOPIC)).toHaveLength(0)
    expect(a.getConnections()).toHaveLength(1)
    expect(await delivers(a, b)).toBe(true)
    expect(await delivers(b, a)).toBe(true)
    expect(a.getConnections()).toHaveLength(1)
  })

  it('replaces an outbound gossip stream that died without gossipsub noticing', async () => {
    const [a, b] = await connected()
    // gossipsub drops a stream from its map on the stream's close event; one that closed before gossipsub
    // listened stays there. Recreate that: close the stream while gossipsub's map holds something else
    const streams = (a.services.pubsub as unknown as { streamsOutbound: Map<string, unknown> }).streamsOutbound
    const id = b.peerId.toString()
    const stream = streams.get(id) as { rawStream: { abort (err: Error): void, status: string } }
    streams.set(id, { rawStream: { status: 'open' }, push () {}, pushPrefixed () {}, close: async () => {} })
    stream.rawStream.abort(new Error('closed behind gossipsub'))
    await pWaitFor(() => stream.rawStream.status !== 'open', { interval: 10, timeout: 5000 })
    streams.set(id, stream)
    expect(await delivers(a, b)).toBe(true)
    expect(await delivers(b, a)).toBe(true)
  })
})

describe('dedupeConnections', () => {
  it('leaves both ends on the one connection the lower peer ID dialed, and gossip on it both ways', async () => {
    const [a, b] = [await host(), await host()]
    for (const h of [a, b]) dedupeConnections(h)
    const [lower, higher] = a.peerId.toString() < b.peerId.toString() ? [a, b] : [b, a]
    // the higher ID dials first, so the connection kept is the younger one
    await higher.dial(lower.getMultiaddrs()[0]!)
    await lower.dial(higher.getMultiaddrs()[0]!)
    await pWaitFor(() => a.getConnections().length === 1 && b.getConnections().length === 1, { interval: 10, timeout: 5000 })
    expect(lower.getConnections()[0]!.direction).toBe('outbound')
    expect(higher.getConnections()[0]!.direction).toBe('inbound')
    expect(await delivers(a, b)).toBe(true)
    expect(await delivers(b, a)).toBe(true)
  })
})
