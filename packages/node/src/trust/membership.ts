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
export type InboundRefusal = 'unlisted_peer' | 'unpinned_peer' | 'not_admitted' | 'key_changed'

/** A listed server that answered its address with another key than the pinned one (a reinstall, or an impostor). */
export interface KeyChange {
  /** The key it answered with. */
  peerId: string
  /** When this node first saw that key there (ms since the epoch). */
  since: number
}

/**
 * How the gater finds out that an unknown key knocking from a listed server's address is that server with a
 * new key: it dials the server (Membership.checkOutbound then sees the key and names the entry).
 */
export interface KeyCheck {
  isConnected: (peerId: string) => boolean
  /** Dials these members now (rate-limited by the dialer). */
  dial: (members: Member[]) => void
}

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
  /** Key changes by entry text, until the entry is re-pinned or answers with its pinned key again. */
  private changed = new Map<string, KeyChange>()
  /** The "not pinned yet" refusal was logged at info: the rest go to debug until every entry is pinned. */
  private saidUnpinned = false

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
    const listed = new Set(entries.map(e => e.text))
    for (const text of this.changed.keys()) if (!listed.has(text)) this.changed.delete(text)
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

  /** The key change seen at an entry, if it still stands. */
  keyChange (text: string): KeyChange | undefined {
    return this.changed.get(text)
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
      if (this.saidUnpinned && this.unpinned().length === 0) {
        this.saidUnpinned = false
        this.log.info({ members: this.others().length }, 'every entry of sync-peers.txt is pinned')
      }
      return true
    }
    if (member.peerId !== peerId) {
      const text = member.entry.text
      const fix = member.entry.peerId === undefined ? 'run `fst repin <entry>`' : 'put its new ID in the entry\'s ID@ in sync-peers.txt'
      const seen = this.changed.get(text)
      // once per entry and key: every redial meets the same key, and that is no news
      if (seen?.peerId === peerId) {
        this.log.debug({ entry: text, expected: member.peerId, got: peerId }, 'peer key still changed: refused')
      } else {
        this.changed.set(text, { peerId, since: Date.now() })
        this.log.error({ entry: text, expected: member.peerId, got: peerId },
          `PEER KEY CHANGED: refusing connection. If the key was legitimately replaced, ${fix}`)
      }
      return false
    }
    if (this.changed.delete(member.entry.text)) this.log.info({ entry: member.entry.text, peerId }, 'peer answers with its pinned key again')
    return true
  }

  /** Pinned members other than this server, not connected now, listed at the IP of `remote` (`/ip4/…/tcp/…`). */
  private downMembersAt (remote: string, isConnected: (peerId: string) => boolean): Member[] {
    const ip = /^\/ip[46]\/([^/]+)\//.exec(remote)?.[1]
    if (ip === undefined) return []
    return this.others().filter(m => m.peerId !== undefined && m.addresses.includes(ip) && !isConnected(m.peerId))
  }

  /** True when `peerId` is a key some entry was seen to change to (inbound connections from it are that server). */
  private isChangedKey (peerId: string): boolean {
    for (const change of this.changed.values()) if (change.peerId === peerId) return true
    return false
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
    this.changed.delete(text)
    this.reindex()
    return this.pins.unpin(text)
  }

  /**
   * The connection gater. An inbound peer that is not a member is refused. While some entries have no pin
   * yet (a fleet's first start), that peer is most likely one of them dialing us before we dialed it: we
   * cannot tell which entry from an inbound connection, so `onUnpinnedInbound` dials those entries now
   * (pinning them as usual); the first such refusal is logged at info, the rest at debug until every entry is pinned. With `admission`, a
   * member's connection may still be refused to keep the node within its bound of connections; a dial
   * then pins first (first-use pins are learned on outbound connections only, inbound or not admitted).
   */
  gater (onUnpinnedInbound: () => void = () => {}, admission?: Admission, keyCheck?: KeyCheck): ConnectionGater {
    return {
      denyDialPeer: (peerId: PeerId) => !this.isMember(peerId.toString()),
      denyInboundEncryptedConnection: (peerId: PeerId, conn: MultiaddrConnection) => {
        const { throttle, onRefused } = this.refusals
        if (this.isMember(peerId.toString())) {
          const refused = admission !== undefined && !admission.inbound(peerId.toString())
          if (refused) onRefused('not_admitted')
          return refused
        }
        const id = peerId.toString()
        const who = { peerId: id, remote: conn.remoteAddr.toString() }
        // the changed key of a listed server: PEER KEY CHANGED said it once (checkOutbound), and fst peers shows it
        if (this.isChangedKey(id)) {
          onRefused('key_changed')
          this.log.debug(who, 'refused inbound connection: the peer\'s key changed')
          return true
        }
        const unpinned = this.unpinned()
        // an unknown key from the address of a listed server that is down: most likely that server with a new
        // key, dialing us first. Dialing it shows its key to checkOutbound, which names the entry
        const suspects = unpinned.length === 0 && keyCheck !== undefined ? this.downMembersAt(conn.remoteAddr.toString(), keyCheck.isConnected) : []
        if (suspects.length > 0) {
          onRefused('unlisted_peer')
          this.log.debug({ ...who, entries: suspects.slice(0, 5).map(m => m.entry.text) }, 'refused inbound connection from an unknown key at a listed server\'s address; dialing it')
          keyCheck!.dial(suspects)
        } else if (unpinned.length === 0) {
          onRefused('unlisted_peer')
          throttle.warn('unlisted_peer', who, 'refused inbound connection from unlisted peer')
        } else {
          onRefused('unpinned_peer')
          // the first few entries are enough to tell which fleet start this is; 10k of them are not a log line
          const fields = { ...who, unpinned: unpinned.slice(0, 5).map(m => m.entry.text), unpinnedCount: unpinned.length }
          // a fleet's first start: every node knocks on every other before it is pinned. Nothing to act on, so
          // one line says it and the rest are debug (counted as unpinned_peer), until every entry is pinned
          if (this.saidUnpinned) {
            this.log.debug(fields, 'refused inbound connection from a peer not pinned yet')
          } else {
            this.saidUnpinned = true
            this.log.info(fields, 'refused inbound connection from a peer not pinned yet; dialing the entries without a pin (more such lines at debug until every entry is pinned)')
          }
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
