import { createHost, type Host, Provenance, TOPIC } from '@fst/node'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { RPC as RpcTypes } from '@libp2p/gossipsub/message'
import { RPC } from '@libp2p/gossipsub/message'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import pWaitFor from 'p-wait-for'
import { freePort, Mesh, type MeshOptions } from './mesh.js'

const SIGN_PREFIX = new TextEncoder().encode('libp2p-pubsub:')
const encoder = new TextEncoder()
/** How long a connection must have been open before we send on it (see canSendTo). */
const STABLE_MS = 500

export interface RogueOptions {
  /** The key to speak with: a fresh one (an outsider) by default, or a listed peer's (a member gone rogue). */
  key?: PrivateKey
  /** Port to listen on, 0 for any. */
  port?: number
  /** Contents of a network key file, for a rogue that has (or guesses) one. */
  networkKey?: Uint8Array | null
}

/** Raw gossipsub internals the rogue uses to send what an honest node never would. */
interface RawPubsub {
  sendRpc(id: string, rpc: RpcTypes): boolean
  getScore(id: string): number
}

/**
 * A hostile libp2p node in the test process, built with the same stack as FST (TCP, Noise, yamux, gossipsub
 * StrictSign) but with no gater and no validator. It can publish anything signed by its key, and send raw
 * gossipsub RPCs: forged signers, foreign signatures, replays of captured bytes.
 */
export class Rogue {
  /** Raw messages seen on the topic, as received (for replays). */
  readonly captured: RpcTypes.Message[] = []

  private constructor (readonly host: Host, readonly key: PrivateKey) {}

  static async create (options: RogueOptions = {}): Promise<Rogue> {
    const key = options.key ?? await generateKeyPair('Ed25519')
    const host = await createHost({
      privateKey: key,
      listen: [`/ip4/127.0.0.1/tcp/${options.port ?? 0}`],
      muxers: ['yamux', 'mplex'],
      gater: {},
      networkKey: options.networkKey ?? null
    })
    const rogue = new Rogue(host, key)
    // keep the exact signed bytes of every message that reaches us
    const pubsub = host.services.pubsub as unknown as { handleReceivedRpc(from: PeerId, rpc: RpcTypes): Promise<void> }
    const original = pubsub.handleReceivedRpc.bind(pubsub)
    pubsub.handleReceivedRpc = async (from, rpc) => {
      for (const m of rpc.messages) if (m.topic === TOPIC) rogue.captured.push(m)
      return original(from, rpc)
    }
    host.services.pubsub.subscribe(TOPIC)
    return rogue
  }

  get peerId (): string {
    return this.host.peerId.toString()
  }

  get port (): number {
    return Number(this.host.getMultiaddrs()[0]!.toString().split('/tcp/')[1]!.split('/')[0])
  }

  private get raw (): RawPubsub {
    return this.host.services.pubsub as unknown as RawPubsub
  }

  /** Dials a node; resolves once it is a subscriber of the topic (or rejects when the node refuses us). */
  async connect (port: number, timeout = 10_000): Promise<void> {
    await this.host.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}`))
    await this.waitSubscriber(undefined, timeout)
  }

  /**
   * Until a node (or any, without `peerId`) is subscribed and we can send to it: gossipsub learns the
   * subscription on the node's stream and sends only once our own stream to it is open (a publish before
   * that reaches no one).
   */
  async waitSubscriber (peerId?: string, timeout = 10_000): Promise<void> {
    await pWaitFor(() => {
      const subs = this.host.services.pubsub.getSubscribers(TOPIC).map(String)
      return subs.some(sub => (peerId === undefined || sub === peerId) && this.canSendTo(sub))
    }, { interval: 20, timeout })
  }

  private canSendTo (peerId: string): boolean {
    // a connection open for a moment: a node refuses one it cannot admit yet (its peer ID not pinned) right
    // after the handshake, and what we write to a stream of it is lost
    return this.host.getConnections().some(c => c.remotePeer.toString() === peerId && c.status === 'open' &&
      Date.now() - c.timeline.open >= STABLE_MS &&
      c.streams.some(s => s.direction === 'outbound' && s.protocol?.startsWith('/meshsub/') === true))
  }

  /** Publishes through gossipsub as an honest node would: signed by our key, to every connected subscriber. */
  async publish (data: Uint8Array | string): Promise<number> {
    const bytes = typeof data === 'string' ? encoder.encode(withRootSignature(data, this.key)) : data
    const result = await this.host.services.pubsub.publish(TOPIC, bytes)
    return result.recipients.length
  }

  /** A raw message signed by `signer` (default: our key), claiming to come from `from` (default: the signer). */
  async sign (data: Uint8Array | string, options: { signer?: PrivateKey, from?: PeerId } = {}): Promise<RpcTypes.Message> {
    const signer = options.signer ?? this.key
    const unsigned: RpcTypes.Message = {
      from: (options.from ?? peerIdFromPrivateKey(signer)).toMultihash().bytes,
      data: typeof data === 'string' ? encoder.encode(withRootSignature(data, signer)) : data,
      seqno: crypto.getRandomValues(new Uint8Array(8)),
      topic: TOPIC
    }
    const signature = await signer.sign(concat(SIGN_PREFIX, RPC.Message.encode(unsigned)))
    return { ...unsigned, signature }
  }

  /** Sends raw messages to one connected peer, bypassing our own gossipsub's publish path. */
  sendRaw (peerId: string, messages: RpcTypes.Message[]): void {
    if (!this.raw.sendRpc(peerId, { subscriptions: [], messages })) throw new Error(`no gossipsub stream to ${peerId}`)
  }

  /** Our gossipsub score of a peer (tests of what honest nodes think of us use `fst peers`). */
  score (peerId: string): number {
    return this.raw.getScore(peerId)
  }

  async stop (): Promise<void> {
    await this.host.stop()
  }
}

/** A fresh Ed25519 key and its peer ID. */
export async function newKey (): Promise<{ key: PrivateKey, peerId: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, peerId: peerIdFromPrivateKey(key).toString() }
}

export function keyBytes (key: PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key)
}

export function keyFromBytes (bytes: Uint8Array): PrivateKey {
  return privateKeyFromProtobuf(bytes)
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/** One signer per key: a flood test signs 10,000 bodies. */
const signers = new WeakMap<PrivateKey, Provenance>()

/** Stands for "sign the batch root with the key that signs the message" in a body from wireMessage. */
export const ROOT_SIGNATURE_PLACEHOLDER = `${'P'.repeat(86)}==`

/** One wire event `[action,name,protocol,port,ip,time,duration]` as a v2 message body, with no validation at all. */
export function wireMessage (events: Array<[unknown, unknown, unknown, unknown, unknown, unknown?, unknown?]>): string {
  return JSON.stringify({ v: 2, s: ROOT_SIGNATURE_PLACEHOLDER, e: events.map(([a, n, p, port, ip, time, duration]) => [a, n, p, port, ip, time ?? Date.now(), duration ?? 0]) })
}

/**
 * A body's placeholder root signature replaced by the real one of `key` (protocol v2), as an honest origin
 * would sign it; bodies that do not parse, or carry another signature, are left as they are.
 */
export function withRootSignature (body: string, key: PrivateKey): string {
  if (!body.includes(ROOT_SIGNATURE_PLACEHOLDER)) return body
  try {
    const msg = JSON.parse(body) as { e: unknown[][] }
    let signer = signers.get(key)
    if (signer === undefined) {
      signer = new Provenance(key, peerIdFromPrivateKey(key).toString())
      signers.set(key, signer)
    }
    const origin = signer.self
    const entries = msg.e.map(([action, name, protocol, port, ip, time, duration]) => ({ action, name, protocol, port, ip, time, duration, origin }) as never)
    return body.replace(ROOT_SIGNATURE_PLACEHOLDER, signer.signBatch(entries).s)
  } catch {
    return body
  }
}

/**
 * A loopback mesh whose sync-peers.txt also lists a member gone rogue (its peer ID pinned): the Rogue holds
 * that member's key. `beforeStart` runs before the nodes start; returns once the rogue sees node `watched`
 * on the topic. Cleans up after itself if any step fails.
 */
export async function meshWithRogueMember (options: Omit<MeshOptions, 'start' | 'peersFile'>, watched: number, beforeStart?: (mesh: Mesh, rogue: Rogue) => void | Promise<void>): Promise<{ mesh: Mesh, rogue: Rogue }> {
  const member = await newKey()
  const port = await freePort()
  const mesh = await Mesh.create({
    ...options,
    start: false,
    peersFile: nodes => [...nodes.map(n => `127.0.0.1:${n.port}`), `${member.peerId}@127.0.0.1:${port}`].join('\n')
  })
  let rogue: Rogue | undefined
  try {
    rogue = await Rogue.create({ key: member.key, port })
    await beforeStart?.(mesh, rogue)
    await mesh.startAll()
    await rogue.waitSubscriber((await mesh.status(watched)).peerId, 20_000)
    return { mesh, rogue }
  } catch (err) {
    await rogue?.stop()
    await mesh.stop()
    throw err
  }
}
