import type { Logger } from 'pino'
import type { Admission, Member, Membership } from '../trust/membership.js'
import { resolveEntry, tcpAddr } from '../trust/peers-file.js'
import { multiaddr } from '@multiformats/multiaddr'
import type { Host } from './host.js'
import { PeerSubset } from './subset.js'

const UNPINNED_DIAL_INTERVAL_MS = 1000

export interface DialerInit {
  host: Host
  membership: Membership
  minMs: number
  maxMs: number
  log: Logger
  /** Bound on connections to members; a larger fleet is connected partially (subset.ts). Absent: no bound. */
  connectivity?: { maxPeers: number, rotateMs: number }
}

/**
 * Keeps a connection to every other member: dials at start, redials lost peers with exponential backoff
 * (re-resolving hostnames each time), and gives up on nobody. In a fleet larger than
 * `connectivity.maxPeers` it keeps a bounded random subset instead (PeerSubset).
 */
export class Dialer {
  private readonly timers = new Map<Member, NodeJS.Timeout>()
  private readonly delays = new Map<Member, number>()
  private readonly dialing = new Set<Member>()
  private lastUnpinnedDial = -Infinity
  private lastKeyCheckDial = -Infinity
  private stopped = false
  private readonly subset: PeerSubset | null

  constructor (private readonly init: DialerInit) {
    this.subset = init.connectivity === undefined
      ? null
      : new PeerSubset({ host: init.host, membership: init.membership, ...init.connectivity, minMs: init.minMs, maxMs: init.maxMs, connect: m => this.attempt(m), log: init.log })
    init.host.addEventListener('peer:disconnect', evt => {
      if (this.subset?.partial() === true) {
        this.subset.onDisconnect()
        return
      }
      const member = this.init.membership.others().find(m => m.peerId === evt.detail.toString())
      if (member !== undefined) this.schedule(member, this.init.minMs)
    })
  }

  /** What the connection gater asks before admitting a member (every member when no bound is configured). */
  admission (): Admission | undefined {
    return this.subset ?? undefined
  }

  /** Dials every member now (start and after SIGHUP); in a partially connected fleet, fills the subset. */
  dialAll (): void {
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
    if (this.stopped) return
    if (this.subset?.partial() === true) {
      this.subset.start()
      return
    }
    this.subset?.stop()
    for (const member of this.init.membership.others()) void this.dial(member)
  }

  /**
   * Dials the members without a pin now instead of at their next backoff (an unknown peer knocked: at a
   * fleet's first start, one of them). At most once a second, so knocking cannot keep this node dialing.
   */
  dialUnpinned (): void {
    // partially connected: pin-only probes, a few at a time
    if (this.subset?.partial() === true) {
      this.subset.probeUnpinned()
      return
    }
    const now = performance.now()
    if (this.stopped || now - this.lastUnpinnedDial < UNPINNED_DIAL_INTERVAL_MS) return
    this.lastUnpinnedDial = now
    for (const member of this.init.membership.unpinned()) {
      // one in flight may already have scheduled its retry: clearing that timer would lose the retry
      if (this.dialing.has(member)) continue
      clearTimeout(this.timers.get(member))
      this.timers.delete(member)
      void this.dial(member)
    }
  }

  /**
   * Dials these members now (an unknown key knocked from their address: perhaps one of them with a new key).
   * At most once a second, like dialUnpinned.
   */
  dialNow (members: Member[]): void {
    const now = performance.now()
    if (this.stopped || now - this.lastKeyCheckDial < UNPINNED_DIAL_INTERVAL_MS) return
    this.lastKeyCheckDial = now
    for (const member of members) {
      if (this.dialing.has(member)) continue
      clearTimeout(this.timers.get(member))
      this.timers.delete(member)
      void this.dial(member)
    }
  }

  stop (): void {
    this.stopped = true
    this.subset?.stop()
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }

  private connected (member: Member): boolean {
    return member.peerId !== undefined && this.init.host.getConnections().some(c => c.remotePeer.toString() === member.peerId)
  }

  private schedule (member: Member, delay: number): void {
    if (this.stopped || this.timers.has(member)) return
    const jittered = delay * (0.8 + Math.random() * 0.4)
    this.timers.set(member, setTimeout(() => { this.timers.delete(member); void this.dial(member) }, jittered))
  }

  private async dial (member: Member): Promise<void> {
    if (this.stopped || this.dialing.has(member) || this.connected(member)) return
    this.dialing.add(member)
    try {
      await this.tryAddresses(member)
    } finally {
      this.dialing.delete(member)
    }
  }

  private async tryAddresses (member: Member): Promise<void> {
    if (await this.attempt(member)) return
    const delay = Math.min(this.init.maxMs, (this.delays.get(member) ?? this.init.minMs / 2) * 2)
    this.delays.set(member, delay)
    this.schedule(member, delay)
  }

  /** Resolves a member's entry and dials its addresses in turn; true once one connected. */
  private async attempt (member: Member): Promise<boolean> {
    try {
      member.addresses = await resolveEntry(member.entry)
    } catch (err) {
      this.init.log.debug({ entry: member.entry.text, err: (err as Error).message }, 'resolve failed')
    }
    for (const ip of member.addresses) {
      // no /p2p/<id>: Noise would refuse a changed key quietly; the gater (Membership.checkOutbound) sees the
      // key first and refuses it with a loud error naming the entry and both IDs
      const addr = tcpAddr(ip, member.entry.port)
      try {
        await this.init.host.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
        this.delays.delete(member)
        // the "peer up" line (peer-log.ts) tells the administrator; this one tells which dial made it
        this.init.log.debug({ entry: member.entry.text, peerId: member.peerId }, 'dialed peer')
        return true
      } catch (err) {
        this.init.log.debug({ addr, err: (err as Error).message }, 'dial failed')
      }
    }
    return false
  }
}
