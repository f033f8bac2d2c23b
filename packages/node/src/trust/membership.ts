import { networkInterfaces } from 'node:os'
import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { LogThrottle } from '../metrics/log-throttle.js'
import { type PeerEntry, resolveEntry } from './peers-file.js'
import type { PinStore } from './pins.js'

/** A peers-file entry with what we learned about it. */
export interface Member {
  entry: PeerEntry
  /** Resolved IP addresses (refreshed before each dial). */
  addresses: string[]
  /** The ID this entry accepts: pinned in the file, or first seen (TOFU). */
  peerId?: string
  /** True for the entry naming this very server. */
  self: boolean
}

/**
 * Admission of members' connections once their key is known, for a node that holds a bounded subset of
 * connections (mesh/subset.ts). Both are asked only for members; absent, every member is admitted.
 */
export interface Admission {
  /** An inbound connection from a member: false refuses it (the node holds its bound). */
  inbound (peerId: string): boolean
  /** An outbound connection to a member, after a first-use pin was recorded: false closes it (a pin-only probe, or the node is full). */
  outbound (member: Member | undefined, peerId: string): boolean
}

/** Why the gater refused an inbound connection once the remote key was known (a bounded label set). */
export type InboundRefusal = 'unlisted_peer' | 'unpinned_peer' | 'not_admitted'

/**
 * Where the gater reports refusals: a handshake flood from one address runs the gater many times a second,
 * so each refusal is counted and its line goes through the warning throttle (per reason), never straight
 * to the log.
 */
export interface RefusalReporting {
  throttle: Pick<LogThrottle, 'warn' | 'info'>
  onRefused: (reason: InboundRefusal) => void
}

/**
 * Who may speak on the mesh: the servers in sync-peers.txt, each held to one peer ID.
 * Also the connection gater: inbound and outbound connections from any other ID are refused.
 */
export class Membership {
  private members: Member[] = []
  private memberIds = new Set<string>()

  constructor (
    private readonly ownId: string,
    private readonly pins: PinStore,
    private readonly log: Logger,
    private readonly refusals: RefusalReporting
  ) {}

  /** Replaces the member list (start and SIGHUP); `listenPorts` are the ports this node listens on. */
  async load (entries: PeerEntry[], listenPorts: number[]): Promise<Member[]> {
    const local = localAddresses()
    const unresolved: Array<{ entry: string, err: string }> = []
    this.members = await Promise.all(entries.map(async entry => {
      const addresses = await resolveEntry(entry).catch(err => {
        unresolved.push({ entry: entry.text, err: (err as Error).message })
        return [] as string[]
      })
      const peerId = entry.peerId ?? this.pins.get(entry.text)
      const self = peerId === this.ownId ||
        (entry.peerId === undefined && listenPorts.includes(entry.port) && addresses.some(a => local.has(a)))
      return { entry, addresses, self, ...(peerId === undefined ? {} : { peerId }) }
    }))
    // one line for all of them: a file of 10,000 names the resolver does not know was 10,000 lines per load
    if (unresolved.length > 0) this.log.warn({ count: unresolved.length, first: unresolved.slice(0, 5) }, 'cannot resolve peers; will retry')
    this.reindex()
    return this.members
  }

  list (): readonly Member[] {
    return this.members
  }

  /** Members other than this server. */
  others (): Member[] {
    return this.members.filter(m => !m.self)
  }

  /** Members other than this server whose peer ID is not known yet (no pin in the file, none learned). */
  unpinned (): Member[] {
    return this.others().filter(m => m.peerId === undefined)
  }

  /** True when a peer ID belongs to a listed server (pinned or first-use pinned); asked for every message. */
  isMember (peerId: string): boolean {
    return this.memberIds.has(peerId)
  }

  /** Rebuilds the set isMember reads, after the list changed or a pin was forgotten. */
  private reindex (): void {
    this.memberIds = new Set(this.members.flatMap(m => !m.self && m.peerId !== undefined ? [m.peerId] : []))
  }

  /** Every resolved address of every member, this server's too: none of them may ever be banned. */
  protectedAddresses (): string[] {
    return this.members.flatMap(m => m.addresses)
  }

  /**
   * Decides an outbound connection once the remote key is known. An entry without a pin takes the first ID
   * seen (recorded like known_hosts); a different ID later is refused loudly.
   */
  checkOutbound (peerId: string, remote: string): boolean {
    const member = this.memberAt(remote)
    if (member === undefined) return this.isMember(peerId)
    if (member.peerId === undefined) {
      member.peerId = peerId
      this.memberIds.add(peerId)
      this.pins.pin(member.entry.text, peerId)
      this.log.info({ entry: member.entry.text, peerId }, 'pinned peer ID on first use')
      return true
    }
    if (member.peerId !== peerId) {
      this.log.error({ entry: member.entry.text, expected: member.peerId, got: peerId },
        'PEER KEY CHANGED: refusing connection. If the key was legitimately replaced, run `fst repin <entry>`')
      return false
    }
    return true
  }

  /** The member listed at a dialed address (`/ip4/…/tcp/…`), if any. */
  memberAt (remote: string): Member | undefined {
    const at = /^\/ip[46]\/([^/]+)\/tcp\/(\d+)(?:\/|$)/.exec(remote)
    return at === null
      ? undefined
      : this.members.find(m => !m.self && m.entry.port === Number(at[2]) && m.addresses.includes(at[1]!))
  }

  /** Forgets the first-use pin of an entry so the next dial pins afresh. */
  repin (text: string): boolean {
    const member = this.members.find(m => m.entry.text === text)
    if (member === undefined || member.entry.peerId !== undefined) return false
    delete member.peerId
    this.reindex()
    return this.pins.unpin(text)
  }

  /**
   * The connection gater. An inbound peer that is not a member is refused. While some entries have no pin
   * yet (a fleet's first start), that peer is most likely one of them dialing us before we dialed it: we
   * cannot tell which entry from an inbound connection, so `onUnpinnedInbound` dials those entries now
   * (pinning them as usual) and the refusal is logged at info, not as a warning. With `admission`, a
   * member's connection may still be refused to keep the node within its bound of connections; a dial
   * then pins first (first-use pins are learned on outbound connections only, inbound or not admitted).
   */
  gater (onUnpinnedInbound: () => void = () => {}, admission?: Admission): ConnectionGater {
    return {
      denyDialPeer: (peerId: PeerId) => !this.isMember(peerId.toString()),
      denyInboundEncryptedConnection: (peerId: PeerId, conn: MultiaddrConnection) => {
        const { throttle, onRefused } = this.refusals
        if (this.isMember(peerId.toString())) {
          const refused = admission !== undefined && !admission.inbound(peerId.toString())
          if (refused) onRefused('not_admitted')
          return refused
        }
        const who = { peerId: peerId.toString(), remote: conn.remoteAddr.toString() }
        const unpinned = this.unpinned()
        if (unpinned.length === 0) {
          onRefused('unlisted_peer')
          throttle.warn('unlisted_peer', who, 'refused inbound connection from unlisted peer')
        } else {
          onRefused('unpinned_peer')
          // the first few entries are enough to tell which fleet start this is; 10k of them are not a log line
          throttle.info('unpinned_peer', { ...who, unpinned: unpinned.slice(0, 5).map(m => m.entry.text), unpinnedCount: unpinned.length }, 'refused inbound connection from a peer not pinned yet; dialing the entries without a pin')
          onUnpinnedInbound()
        }
        return true
      },
      denyOutboundEncryptedConnection: (peerId: PeerId, conn: MultiaddrConnection) => {
        const remote = conn.remoteAddr.toString()
        if (!this.checkOutbound(peerId.toString(), remote)) return true
        return admission !== undefined && !admission.outbound(this.memberAt(remote), peerId.toString())
      }
    }
  }
}

function localAddresses (): Set<string> {
  const out = new Set<string>(['127.0.0.1', '::1', '0.0.0.0', '::'])
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.add(a.address)
  }
  return out
}
