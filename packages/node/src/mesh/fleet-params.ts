import type { Config } from '../config/config.js'
import { ConfigError } from '../errors.js'

/** The gossipsub parameters that depend on the size of the fleet. */
export interface GossipTuning {
  /** The origin sends its own message to every connected topic peer, not only to its mesh peers. */
  floodPublish: boolean
  /** Mesh degree: target, low and high water marks, outbound quota, peers kept by score when pruning. */
  D: number
  Dlo: number
  Dhi: number
  Dout: number
  Dscore: number
  /** IHAVE gossip goes to max(Dlazy, gossipFactor × the other topic peers) per heartbeat. */
  Dlazy: number
  gossipFactor: number
}

/**
 * Up to a few dozen servers: publish to every peer (one hop, the lowest latency) with a small mesh behind it
 * that only carries repair copies; every node then receives ~3 copies of a message instead of 6-12
 * (docs/benchmarks.md, "Gossipsub mesh degree D = 3").
 */
export const SMALL_FLEET: Readonly<GossipTuning> = { floodPublish: true, D: 3, Dlo: 2, Dhi: 4, Dout: 1, Dscore: 1, Dlazy: 6, gossipFactor: 0.25 }

/**
 * Large fleets: the mesh carries every message. No flood publishing (the origin uploads D copies, not one per
 * connection, which matters for a batch of 1,000 bans on a WAN uplink); a wider mesh, more paths per node
 * against loss and partitions and ~log(N)/log(D) hops; IHAVE gossip to a tenth of the other peers so it
 * does not grow with the connection count (docs/benchmarks.md, "Beyond one machine").
 */
export const LARGE_FLEET: Readonly<GossipTuning> = { floodPublish: false, D: 8, Dlo: 6, Dhi: 12, Dout: 3, Dscore: 4, Dlazy: 6, gossipFactor: 0.1 }

/**
 * The tuning for a fleet of `fleetSize` servers (the entries of sync-peers.txt, this one included): the small
 * or large set by `gossip.largeFleetAt`, then every non-null value of `gossip` on top. Gossipsub's own rules
 * (Dlo <= D <= Dhi, Dout < Dlo, Dout <= D / 2) are checked here; it would not complain itself.
 */
export function gossipTuning (fleetSize: number, gossip: Config['gossip']): GossipTuning {
  const base = fleetSize >= gossip.largeFleetAt ? LARGE_FLEET : SMALL_FLEET
  const { largeFleetAt: _largeFleetAt, ...overrides } = gossip
  const tuning: GossipTuning = { ...base }
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== null) (tuning as unknown as Record<string, unknown>)[key] = value
  }
  // Dscore follows D when only D was overridden: gossipsub keeps Dscore peers by score when pruning to D
  tuning.Dscore = Math.min(tuning.Dscore, tuning.D)
  const broken = [
    tuning.Dlo <= tuning.D || `gossip.Dlo (${tuning.Dlo}) must be <= gossip.D (${tuning.D})`,
    tuning.D <= tuning.Dhi || `gossip.D (${tuning.D}) must be <= gossip.Dhi (${tuning.Dhi})`,
    tuning.Dout < tuning.Dlo || tuning.Dout === 0 || `gossip.Dout (${tuning.Dout}) must be < gossip.Dlo (${tuning.Dlo})`,
    tuning.Dout <= tuning.D / 2 || `gossip.Dout (${tuning.Dout}) must be <= gossip.D / 2 (${tuning.D / 2})`
  ].find(check => check !== true)
  if (typeof broken === 'string') throw new ConfigError(`gossip: ${broken} (fleet of ${fleetSize}, ${base === LARGE_FLEET ? 'large' : 'small'}-fleet set)`)
  return tuning
}
