/**
 * One step of the idle floor (idle-floor.ts): a process that loads and runs only part of what an FST node
 * does, bundled as the node is (esbuild, one file and its chunks), so its RSS says what that part costs.
 * `node floor-step.mjs LEVEL [PEER]`, LEVEL one of LEVELS; with a peer's multiaddr it dials it. Prints
 * `listening ADDR` and then `ready` once the part is running (connected, in the topic's mesh).
 * Each part is a dynamic import: esbuild splits it into a chunk that loads only when its level needs it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Level, LEVELS } from './floor-levels.js'


const level = process.argv[2] as Level
const peer = process.argv[3]
if (!LEVELS.includes(level)) throw new Error(`unknown level ${level}: one of ${LEVELS.join(', ')}`)
const say = (line: string) => process.stdout.write(`${line}\n`)

/** A store opened as the ledger opens its own, written and read once. */
async function lmdb (): Promise<() => void> {
  const { open } = await import('lmdb')
  const { LEDGER_MAP_BYTES, storeOptions } = await import('../../packages/node/src/ledger/store-options.js')
  const dir = mkdtempSync(join(tmpdir(), 'fst-floor-'))
  const db = open({ path: dir, ...storeOptions(LEDGER_MAP_BYTES, true) })
  await db.put('ban|sshd|tcp|22|203.0.113.7', { action: 'ban', ip: '203.0.113.7', time: Date.now(), duration: 600 })
  db.get('ban|sshd|tcp|22|203.0.113.7')
  return () => rmSync(dir, { recursive: true, force: true })
}

/** A libp2p host with the node's transport, encryption, muxer and identify; gossipsub with FST's parameters. */
async function host (withGossip: boolean): Promise<void> {
  const [{ createLibp2p }, { tcp }, { noise }, { yamux }, { identify }, { multiaddr }] = await Promise.all([
    import('libp2p'), import('@libp2p/tcp'), import('@libp2p/noise'), import('@libp2p/yamux'), import('@libp2p/identify'), import('@multiformats/multiaddr')
  ])
  const services: Record<string, unknown> = { identify: identify() }
  let topic = ''
  if (withGossip) {
    const { gossipsub, StrictSign } = await import('@libp2p/gossipsub')
    const params = await import('../../packages/node/src/mesh/gossip-params.js')
    topic = params.TOPIC
    services.pubsub = gossipsub({ ...params.gossipOptions(topic), globalSignaturePolicy: StrictSign })
  }
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: services as never
  })
  say(`listening ${node.getMultiaddrs()[0]!.toString()}`)
  const pubsub = (node.services as { pubsub?: { subscribe: (t: string) => void, getMeshPeers: (t: string) => unknown[]} }).pubsub
  pubsub?.subscribe(topic)
  if (peer !== undefined) await node.dial(multiaddr(peer))
  // ready once connected (and, with gossipsub, once the peer is in the topic's mesh: heartbeats graft it);
  // polled, as the harness bounds the wait
  const ready = () => node.getConnections().length > 0 && (pubsub === undefined || pubsub.getMeshPeers(topic).length > 0)
  await new Promise<void>(resolve => {
    const poll = setInterval(() => { if (ready()) { clearInterval(poll); resolve() } }, 100)
  })
}

const cleanups: Array<() => void> = []
if (level.includes('lmdb')) cleanups.push(await lmdb())
const gossip = level.startsWith('gossipsub')
if (gossip || level === 'libp2p') await host(gossip)
else say('listening none')
say('ready')
// at rest until the harness ends it
setInterval(() => {}, 1 << 30)
process.on('SIGTERM', () => {
  for (const c of cleanups) c()
  process.exit(0)
})
