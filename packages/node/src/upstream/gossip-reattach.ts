import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { GossipInternals } from './internals.js'

/** How often the gossip streams of connected peers are checked. */
export const STREAM_CHECK_MS = 1000

/**
 * Keeps gossipsub talking to every connected peer. Gossipsub 17 opens its stream to a peer only when the peer
 * connects, and forgets the peer (its subscriptions and both streams, on every connection) when a stream's read
 * fails, e.g. because one of two connections to the peer closed. Nothing reopens the streams afterwards, and
 * when both ends forgot each other at once gossip between two connected members stopped for good.
 *
 * So after a connection closes, a surviving one is announced to gossipsub again (a new stream if it has none,
 * and our subscriptions on it); and every STREAM_CHECK_MS a peer we are connected to but have had no outbound
 * gossip stream to for two checks in a row is announced again. Such a stream may also be dead but still in
 * gossipsub's map (it closed while being opened, before gossipsub listened for its close: seen when a duplicate
 * connection closes at start-up); it is dropped first. The peer's gossipsub answers a new inbound
 * stream by opening its own if it has none, so both directions come back and each side resends its
 * subscriptions. Every peer the gater admits is a member, and every member speaks gossipsub.
 * Upstream: libp2p/js-libp2p gossipsub, peer removed on a stream error and never re-added while connected
 * (still so in @libp2p/gossipsub 17.1.1, the newest release on 2026-12-03).
 */
export function keepGossipStreams (host: Libp2p, pubsub: GossipInternals): void {
  const reattach = (peer: PeerId): void => {
    const survivor = host.getConnections(peer).find(c => c.status === 'open')
    if (survivor !== undefined) pubsub.onPeerConnected(peer, survivor)
  }
  host.addEventListener('connection:close', evt => {
    // after gossipsub has dropped the closed connection's streams (their close events run first)
    setTimeout(() => reattach(evt.detail.remotePeer), 0)
  })

  // missing on one check may be a stream still being opened; missing on two in a row is lost
  let missing = new Set<string>()
  const check = (): void => {
    const now = new Set<string>()
    for (const conn of host.getConnections()) {
      const id = conn.remotePeer.toString()
      if (conn.status !== 'open' || now.has(id)) continue
      const outbound = pubsub.streamsOutbound.get(id)
      if (pubsub.peers.has(id) && outbound?.rawStream.status === 'open') continue
      now.add(id)
      if (!missing.has(id)) continue
      // a stream that closed before gossipsub listened for its close stays in its map, and blocks a new one
      if (outbound !== undefined) pubsub.streamsOutbound.delete(id)
      reattach(conn.remotePeer)
    }
    missing = now
  }
  const timer = setInterval(check, STREAM_CHECK_MS)
  timer.unref()
  host.addEventListener('stop', () => clearInterval(timer))
}
