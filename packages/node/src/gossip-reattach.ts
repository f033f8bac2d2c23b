import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'

/** The part of gossipsub 17 used here: its topology callback, which is not in its exported type. */
interface GossipTopology {
  onPeerConnected: (peerId: PeerId, connection: ReturnType<Libp2p['getConnections']>[number]) => void
}

/**
 * Keeps gossipsub talking to a peer when one of two connections to it closes. Two members dialling each
 * other at once end up with two connections (libp2p keeps both), and gossipsub 17 opens its stream to a peer
 * only when the peer connects: if the connection carrying that stream closes while the other stays up, it
 * stops sending to that peer (and may forget the peer's subscription) although both are connected. After a
 * close, the surviving connection is announced to gossipsub again, which opens a new stream if it has none
 * and resends our subscriptions; with a stream still in place that is a no-op.
 */
export function keepGossipStreams (host: Libp2p<{ pubsub: unknown }>): void {
  const pubsub = host.services.pubsub as GossipTopology
  host.addEventListener('connection:close', evt => {
    const peer = evt.detail.remotePeer
    // after gossipsub has dropped the closed connection's streams (their close events run first)
    setTimeout(() => {
      const survivor = host.getConnections(peer).find(c => c.status === 'open')
      if (survivor !== undefined) pubsub.onPeerConnected(peer, survivor)
    }, 0)
  })
}
