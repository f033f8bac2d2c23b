import { MAX_MESSAGE_BYTES } from '@fst/protocol'
import type { GossipsubOpts } from '@libp2p/gossipsub'
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import { type GossipTuning, SMALL_FLEET } from './fleet-params.js'

/** How long a message id stays in gossipsub's seen cache (see gossipOptions). */
export const SEEN_TTL_MS = 2 * 60 * 1000

/** The gossipsub topic every FST node and the metrics service join. */
export const TOPIC = 'fst/events/2'

/**
 * Score for the events topic. A firewall mesh is quiet (no bans for hours is normal), so the delivery-rate
 * terms that suit busy chains (P1 time in mesh, P2 first deliveries, P3/P3b mesh deliveries) are off: they
 * would punish honest idle peers. Only P4 counts: every message our validator Rejects (bad signer, bad shape,
 * protected address) adds 1 to the invalid count of the peer that sent it to us, and the score falls by
 * count² × 1. The count decays by 1% a second (half-life ~70 s).
 */
export const topicScoreParams: Partial<TopicScoreParams> = {
  topicWeight: 1,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -1,
  invalidMessageDeliveriesDecay: 0.99
}

/**
 * Thresholds (gossipsub's defaults, stated so docs/security.md can cite them): with P4 alone, 4 rejected
 * messages put a peer below gossip (-10: no IHAVE to or from it), 8 below publish (-50: we stop sending it our
 * messages) and 9 below graylist (-80: everything it sends is dropped unread until the count decays).
 */
export const scoreThresholds: Partial<PeerScoreThresholds> = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80
}

/**
 * Mesh degree of a small fleet. With floodPublish every directly connected peer gets the origin's own copy;
 * the mesh only carries copies to peers the origin cannot reach, so a small one is enough (gossip repairs the
 * rest) and every node then receives ~3 copies of a message instead of 6-12. With 30 nodes on two cores this
 * halved the propagation p99 (2.2 → 1.1 s) and cut CPU per ban ~12 % at 10 nodes (docs/benchmarks.md).
 * Large fleets use fleet-params.ts's LARGE_FLEET.
 */
export const MESH_DEGREE = { D: SMALL_FLEET.D, Dlo: SMALL_FLEET.Dlo, Dhi: SMALL_FLEET.Dhi, Dout: SMALL_FLEET.Dout, Dscore: SMALL_FLEET.Dscore } as const

/**
 * Gossipsub settings for a fleet of firewalls. Messages are few and precious, peers are known in
 * advance, so: for a small fleet publish to every peer (floodPublish) for the first hop's latency, a small
 * mesh behind it (MESH_DEGREE); for a large one the mesh carries everything (`tuning`, fleet-params.ts);
 * drop duplicates by (from, seqno) before any signature work.
 *
 * The seen cache keeps gossipsub's default of 2 minutes, far past the few seconds in which the mesh's own
 * copies and IWANT answers arrive. It is not the replay defence: the freshness window is a day and a restart
 * empties the cache, and a replay that gets past it changes nothing because the ledger keeps the newest event
 * per key. At 10 minutes it held five times the ids (16,000 at the soak's 50 messages a second, ~8 MB, and the
 * last 10 minutes of any wave) and took 10 minutes to reach its size, which the soak read as growth.
 */
export function gossipOptions (topic = TOPIC, tuning: GossipTuning = SMALL_FLEET): Partial<GossipsubOpts> {
  const scoreParams: Partial<PeerScoreParams> = {
    topics: { [topic]: topicScoreParams as TopicScoreParams },
    // broken IWANT promises; a peer that advertises messages it never delivers loses score quickly
    behaviourPenaltyWeight: -10,
    behaviourPenaltyDecay: 0.986,
    // members are listed and pinned one by one, so several on one address (NAT, containers, a loopback test
    // mesh) are not a Sybil attack; gossipsub's default (-5 per extra peer² beyond 10) graylisted every peer of
    // a 20-node mesh on one host
    IPColocationFactorWeight: 0
  }
  return {
    allowPublishToZeroTopicPeers: true,
    ...tuning,
    emitSelf: false,
    // peers come from sync-peers.txt only: no peer exchange
    doPX: false,
    fastMsgIdFn: msg => fastId(msg.from, msg.seqno),
    seenTTL: SEEN_TTL_MS,
    // one message at a time per peer, in order: a flooding peer's backlog then waits in its own stream (and
    // TCP/yamux flow control slows the sender) instead of thousands of validations racing every other peer's
    awaitRpcHandler: true,
    awaitRpcMessageHandler: true,
    // one RPC frame; the default is 4 MiB. Room for a few full messages plus control, no more
    maxInboundDataLength: 4 * MAX_MESSAGE_BYTES,
    scoreParams,
    scoreThresholds
  }
}

function fastId (from?: Uint8Array, seqno?: Uint8Array): string {
  return Buffer.from(from ?? []).toString('base64') + Buffer.from(seqno ?? []).toString('base64')
}
