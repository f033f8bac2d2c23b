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
import { gossipOptions } from './gossip-params.js'

export interface HostInit {
  privateKey: PrivateKey
  listen: string[]
  muxers: Array<'yamux' | 'mplex'>
  gater: ConnectionGater
  /** Contents of a libp2p swarm.key file, or null for an open network. */
  networkKey: Uint8Array | null
  /** Registry for libp2p's own metrics (connections, streams, gossipsub); null or absent for none. */
  metricsRegistry?: Registry | null
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
    // replaced by LivenessMonitor (liveness.ts), which spreads its pings instead of sending them in one burst
    connectionMonitor: { enabled: false },
    ...(init.networkKey === null ? {} : { connectionProtector: preSharedKey({ psk: init.networkKey }) }),
    // the node's registry, never prom-client's global one; process metrics come from it too
    ...(init.metricsRegistry == null ? {} : { metrics: (await import('@libp2p/prometheus-metrics')).prometheusMetrics({ registry: init.metricsRegistry }) }),
    services: {
      identify: identify(),
      pubsub: gossipsub({ ...gossipOptions(), globalSignaturePolicy: StrictSign })
    }
  })
  return host
}

export type Host = Awaited<ReturnType<typeof createHost>>

export function readNetworkKey (file: string | null): Uint8Array | null {
  return file === null ? null : readFileSync(file)
}
