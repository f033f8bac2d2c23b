import type { GossipsubOpts } from '@libp2p/gossipsub'

/**
 * Gossipsub settings for a fleet of firewalls. Messages are few and precious, peers are known in
 * advance, so: publish to every peer (floodPublish) for the first hop's latency, keep a message in the
 * seen cache for long enough that a replay inside the freshness window is still dropped as duplicate,
 * and drop duplicates by (from, seqno) before any signature work.
 */
export function gossipOptions (): Partial<GossipsubOpts> {
  return {
    allowPublishToZeroTopicPeers: true,
    floodPublish: true,
    emitSelf: false,
    // peers come from sync-peers.txt only: no peer exchange
    doPX: false,
    fastMsgIdFn: msg => fastId(msg.from, msg.seqno),
    seenTTL: 10 * 60 * 1000,
    scoreParams: {
      // a peer that forwards rejected messages loses score quickly; see docs/security.md
      behaviourPenaltyWeight: -10,
      behaviourPenaltyDecay: 0.986
    }
  }
}

function fastId (from?: Uint8Array, seqno?: Uint8Array): string {
  return Buffer.from(from ?? []).toString('base64') + Buffer.from(seqno ?? []).toString('base64')
}
