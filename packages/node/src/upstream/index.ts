import type { Libp2p } from 'libp2p'
import type { Logger } from 'pino'
import { dedupeConnections } from './dedupe-connections.js'
import { keepGossipStreams } from './gossip-reattach.js'
import { gossipInternals, gossipScore, muxerOf } from './internals.js'

/**
 * What FST carries for behaviours of libp2p, gossipsub, yamux and V8 (docs/architecture.md, "What we carry
 * and why"). This module installs the host workarounds once, after the host is created, and checks the
 * private fields they use: a missing one (an upgrade moved it) costs one warning and that workaround,
 * never a crash. The dependency patches live in patches/, the V8 one in memory-reducer.ts.
 */
export interface Upstream {
  /** gossipsub's score of a peer, or null when this gossipsub does not expose one. */
  score (peerId: string): number | null
}

export function installWorkarounds (host: Libp2p<{ pubsub: unknown }>, log: Logger): Upstream {
  const warn = (workaround: string, missing: string) =>
    log.warn({ workaround, missing }, 'libp2p internals changed (an upgrade?): running without this workaround')
  dedupeConnections(host)
  const internals = gossipInternals(host.services.pubsub)
  if (internals === null) warn('gossip-reattach', 'gossipsub peers / streamsOutbound / onPeerConnected')
  else keepGossipStreams(host, internals)
  const score = gossipScore(host.services.pubsub)
  if (score === null) warn('peer-score', 'gossipsub getScore')
  // the muxer is only there once a connection is: the first one tells whether liveness can use it (the yamux
  // patch's timestamp is checked by the liveness monitor after its first ping answer)
  host.addEventListener('connection:open', evt => {
    const muxer = muxerOf(evt.detail)
    if (muxer === undefined) warn('liveness', 'connection.muxer: every connection is probed over a stream')
  }, { once: true })
  return { score: id => (score === null ? null : score(id)) }
}
