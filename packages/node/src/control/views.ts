import type { NodeStatus, PeerRow } from '@fst/protocol'
import { TOPIC } from '../mesh/gossip-params.js'
import type { Host } from '../mesh/host.js'
import type { NodeMetrics } from '../metrics/metrics.js'
import type { Member } from '../trust/membership.js'

export interface PeerViewInit {
  self: string
  members: readonly Member[]
  connected: ReadonlySet<string>
  lastHeard: ReadonlyMap<string, number>
  /** gossipsub peer score: falls with every message of this peer our validator Rejected. */
  score: (peerId: string) => number | null
  /** The key change standing at an entry (Membership.keyChange). */
  keyChange: (entry: string) => { peerId: string, since: number } | undefined
}

/** `fst peers`: one row per sync-peers.txt entry. */
export function peerRows (init: PeerViewInit): PeerRow[] {
  return init.members.map(m => {
    const connected = m.peerId !== undefined && init.connected.has(m.peerId)
    return {
      entry: m.entry.text,
      self: m.self,
      // the self row shows this node's own ID even when the entry pins none
      peerId: m.self ? init.self : (m.peerId ?? null),
      pinned: m.entry.peerId !== undefined ? 'file' : m.self ? 'self' : m.peerId !== undefined ? 'first-use' : 'none',
      addresses: m.addresses,
      connected,
      lastMessage: m.peerId === undefined ? null : (init.lastHeard.get(m.peerId) ?? null),
      score: !m.self && connected && m.peerId !== undefined ? init.score(m.peerId) : null,
      keyChanged: m.self ? null : (init.keyChange(m.entry.text) ?? null)
    }
  })
}

type LabelledCounter = { get(): Promise<{ values: Array<{ labels: Record<string, string | number | undefined>, value: number }> }> }

/** A counter's values keyed by its one label (reason, or action). */
export async function countsByLabel (counter: LabelledCounter): Promise<Record<string, number>> {
  return Object.fromEntries((await counter.get()).values.map(v => [String(v.labels.reason ?? v.labels.action), v.value]))
}

/** Received entries refused, by reason: catch-up validation (bad_signature, …) and the bounds and unban authority. */
export async function entryRefusals (metrics: { entriesRefused: LabelledCounter, catchupEntries: LabelledCounter }): Promise<Record<string, number>> {
  const out = await countsByLabel(metrics.entriesRefused)
  for (const { labels, value } of (await metrics.catchupEntries.get()).values) {
    const reason = String(labels.outcome)
    if (reason !== 'applied' && reason !== 'unchanged') out[reason] = (out[reason] ?? 0) + value
  }
  return out
}

export interface StatusInit {
  peerId: string
  /** Connected peers' IDs (MeshPeer.connectedPeers). */
  peers: string[]
  host: Pick<Host, 'getConnections' | 'getMultiaddrs'> & { services: { pubsub: { getSubscribers(topic: string): Array<{ toString(): string }>, getPeers(): unknown[] } } }
  ledger: NodeStatus['ledger']
  queue: number
  /** Reports waiting in the spool (spool/drainer.ts). */
  spool?: NodeStatus['spool']
  /** Memory-reducing collections run since the start (upstream/memory-reducer.ts). */
  collections: number
  messages: NodeStatus['messages']
  catchup: NonNullable<NodeStatus['catchup']>
  metrics: Pick<NodeMetrics, 'rejected' | 'refused' | 'held' | 'entriesRefused' | 'catchupEntries'>
}

function memoryMb (collections: number): NonNullable<NodeStatus['memory']> {
  const m = process.memoryUsage()
  const mb = (bytes: number) => Math.round(bytes / 1e5) / 10
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), collections }
}

/** `fst status`: connections, gossip view, ledger, queue, message counts and the defences' counters. */
export async function nodeStatus (init: StatusInit): Promise<NodeStatus> {
  const { host, metrics } = init
  const pubsub = host.services.pubsub
  return {
    peerId: init.peerId,
    peers: init.peers,
    meshPeers: pubsub.getSubscribers(TOPIC).map(String),
    gossipPeers: pubsub.getPeers().length,
    connections: host.getConnections().length,
    listen: host.getMultiaddrs().map(String),
    ledger: init.ledger,
    queue: init.queue,
    ...(init.spool === undefined ? {} : { spool: init.spool }),
    memory: memoryMb(init.collections),
    messages: init.messages,
    catchup: init.catchup,
    defences: { rejected: await countsByLabel(metrics.rejected), refused: await countsByLabel(metrics.refused), held: await countsByLabel(metrics.held), entries: await entryRefusals(metrics) }
  }
}
