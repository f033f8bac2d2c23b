import { createHost, type Host, TOPIC } from '@fst/node'
import { generateKeyPair } from '@libp2p/crypto/keys'

/**
 * libp2p hosts built with FST's own `createHost` in the test process, each on a free loopback port and
 * subscribed to the events topic. Call `stopAll` in an afterEach.
 */
export function hostPool () {
  const hosts: Host[] = []
  return {
    async host (): Promise<Host> {
      const h = await createHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], muxers: ['yamux'], gater: {}, networkKey: null })
      hosts.push(h)
      h.services.pubsub.subscribe(TOPIC)
      return h
    },
    async stopAll (): Promise<void> {
      await Promise.all(hosts.splice(0).map(h => h.stop()))
    }
  }
}
