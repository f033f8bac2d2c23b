import type { Connection } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'

/**
 * Keeps one connection per peer. Two members that dial each other at the same moment (both starting, both
 * redialing after a cut) end up with two connections, and libp2p keeps both: at 30 nodes ~43 connections
 * for 29 peers, each pinged, each with its own buffers. When a second connection to a peer opens, both ends
 * close the same one without talking about it: they keep the connection dialed by the lower peer ID (the
 * oldest such, should there be several) and close the others. Gossip moves to the survivor through
 * keepGossipStreams (gossip-reattach.ts).
 */
export function dedupeConnections (host: Libp2p): void {
  const own = host.peerId.toString()
  host.addEventListener('connection:open', evt => {
    const peer = evt.detail.remotePeer
    // once the opening connection is in libp2p's list
    setTimeout(() => {
      const open = host.getConnections(peer).filter(c => c.status === 'open')
      if (open.length < 2) return
      const keep = preferred(open, own < peer.toString())
      for (const conn of open) if (conn !== keep) void conn.close().catch(() => conn.abort(new Error('duplicate connection')))
    }, 0)
  })
}

/** The connection both ends agree on: dialed by the lower ID (outbound here when we are lower), oldest first. */
function preferred (open: Connection[], weAreLower: boolean): Connection {
  const byLower = open.filter(c => c.direction === (weAreLower ? 'outbound' : 'inbound'))
  const candidates = byLower.length > 0 ? byLower : open
  return candidates.reduce((a, b) => (b.timeline.open < a.timeline.open ? b : a))
}
