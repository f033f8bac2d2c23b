import { readFileSync } from 'node:fs'
import { gossipsub, StrictSign } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import type { GossipTuning } from './fleet-params.js'
import { gossipOptions, TOPIC } from './gossip-params.js'

export interface HostInit {
  privateKey: PrivateKey
  listen: string[]
  muxers: Array<'yamux' | 'mplex'>
  gater: ConnectionGater
  /** Contents of a libp2p swarm.key file, or null for an open network. */
  networkKey: Uint8Array | null
  /** Registry for libp2p's own metrics (connections, streams, gossipsub); null or absent for none. */
  metricsRegistry?: Registry | null
  /** Gossipsub parameters for the fleet's size (fleet-params.ts); the small-fleet set when absent. */
  gossip?: GossipTuning
  /**
   * libp2p's own cap on connections, a safety net behind the subset's bound (subset.ts); libp2p's default
   * (300) when absent. Past it libp2p refuses inbound connections and prunes.
   */
  maxConnections?: number
}

/** Builds the libp2p host: TCP, Noise, yamux/mplex, identify and a StrictSign gossipsub. */
export async function createHost (init: HostInit) {
  // mplex and libp2p's metrics are imported only when configured: an idle node's memory (issue 7)
  const muxers = { yamux: async () => yamux(), mplex: async () => (await import('@libp2p/mplex')).mplex() }
  const host = await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: await Promise.all(init.muxers.map(m => muxers[m]())),
    connectionGater: init.gater,
    ...(init.maxConnections === undefined
      ? {}
      : {
          connectionManager: {
            maxConnections: init.maxConnections,
            // libp2p refuses inbound connections past 10 in their handshake, or 5 a second from one address:
            // members of a test fleet on one host, or behind one NAT, all come from one address, and behind
            // 20 ms links a 60-node fleet never connected (handshakes take several round trips)
            maxIncomingPendingConnections: Math.max(10, Math.ceil(init.maxConnections / 2)),
            inboundConnectionThreshold: Math.max(5, Math.ceil(init.maxConnections / 4))
          }
        }),
    // replaced by LivenessMonitor (liveness.ts), which spreads its pings instead of sending them in one burst
    connectionMonitor: { enabled: false },
    ...(init.networkKey === null ? {} : { connectionProtector: preSharedKey({ psk: init.networkKey }) }),
    // the node's registry, never prom-client's global one; process metrics come from it too
    ...(init.metricsRegistry == null ? {} : { metrics: (await import('@libp2p/prometheus-metrics')).prometheusMetrics({ registry: init.metricsRegistry }) }),
    services: {
      identify: identify(),
      pubsub: gossipsub({ ...gossipOptions(TOPIC, init.gossip), globalSignaturePolicy: StrictSign })
    }
  })
  return host
}

export type Host = Awaited<ReturnType<typeof createHost>>

export function readNetworkKey (file: string | null): Uint8Array | null {
  return file === null ? null : readFileSync(file)
}
