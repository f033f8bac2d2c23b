import { createHost, gossipInternals, type Host, keepGossipStreams, TOPIC } from '@fst/node'
import { generateKeyPair } from '@libp2p/crypto/keys'

/**
 * libp2p hosts built with FST's own `createHost` (plus the gossip-stream workaround) in the test process, each on a free loopback port and
 * subscribed to the events topic. Call `stopAll` in an afterEach.
 */
export function hostPool () {
  const hosts: Host[] = []
  return {
    async host (): Promise<Host> {
      const h = await createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], muxers: ['yamux'], gater: {}, networkKey: null })
      hosts.push(h)
      // as a node's MeshPeer does (upstream/index.ts); connection dedup stays off so tests can hold two
      const internals = gossipInternals(h.services.pubsub)
      if (internals === null) throw new Error('gossipsub internals changed: see packages/node/src/upstream/internals.ts')
      keepGossipStreams(h, internals)
      h.services.pubsub.subscribe(TOPIC)
      return h
    },
    async stopAll (): Promise<void> {
      await Promise.all(hosts.splice(0).map(h => h.stop()))
    }
  }
}
