import type { Connection, PeerId } from '@libp2p/interface'

/**
 * The one place that reaches into libp2p's and gossipsub's private state. Each accessor checks the shape it
 * needs and answers null/undefined when an upgrade changed it, so the workaround that uses it is skipped
 * (with one warning, see upstream/index.ts) instead of crashing in a timer. Checked on: libp2p 3.3.11,
 * @libp2p/gossipsub 17.1.1, @libp2p/yamux 8.0.3, @libp2p/mplex 12.0.32 (the newest releases on 2026-12-03).
 */

/** gossipsub 17's peer and outbound stream maps and its topology callback (not in its exported type). */
export interface GossipInternals {
  peers: Map<string, PeerId>
  streamsOutbound: Map<string, { rawStream: { status: string } }>
  onPeerConnected: (peerId: PeerId, connection: Connection) => void
}

export function gossipInternals (pubsub: unknown): GossipInternals | null {
  const p = pubsub as Partial<GossipInternals> | null
  const ok = p !== null && p.peers instanceof Map && p.streamsOutbound instanceof Map && typeof p.onPeerConnected === 'function'
  return ok ? p as GossipInternals : null
}

/** gossipsub 17's peer score (the implementation has getScore; its exported type does not). */
export function gossipScore (pubsub: unknown): ((peerId: string) => number) | null {
  const p = pubsub as { getScore?: unknown } | null
  return typeof p?.getScore === 'function' ? (id: string) => (p as { getScore(id: string): number }).getScore(id) : null
}

/** A connection's stream muxer: yamux answers a ping frame without a stream (not in libp2p's Connection type). */
export interface MuxerInternals {
  ping?: (options: { signal: AbortSignal }) => Promise<number>
  /** When the peer last sent anything on the connection (ms since the epoch): set by FST's yamux patch. */
  lastReceivedAt?: number
}

export function muxerOf (conn: Connection): MuxerInternals | undefined {
  const muxer = (conn as unknown as { muxer?: unknown }).muxer
  return typeof muxer === 'object' && muxer !== null ? muxer as MuxerInternals : undefined
}
