import type { Logger } from 'pino'
import type { Member, Membership } from '../trust/membership.js'
import { resolveEntry, tcpAddr } from '../trust/peers-file.js'
import { multiaddr } from '@multiformats/multiaddr'
import type { Host } from './host.js'

const UNPINNED_DIAL_INTERVAL_MS = 1000

export interface DialerInit {
  host: Host
  membership: Membership
  minMs: number
  maxMs: number
  log: Logger
}

/**
 * Keeps a connection to every other member: dials at start, redials lost peers with exponential backoff
 * (re-resolving hostnames each time), and gives up on nobody.
 */
export class Dialer {
  private readonly timers = new Map<Member, NodeJS.Timeout>()
  private readonly delays = new Map<Member, number>()
  private readonly dialing = new Set<Member>()
  private lastUnpinnedDial = -Infinity
  private stopped = false

  constructor (private readonly init: DialerInit) {
    init.host.addEventListener('peer:disconnect', evt => {
      const member = this.init.membership.others().find(m => m.peerId === evt.detail.toString())
      if (member !== undefined) this.schedule(member, this.init.minMs)
    })
  }

  /** Dials every member now (start and after SIGHUP). */
  dialAll (): void {
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
    for (const member of this.init.membership.others()) void this.dial(member)
  }

  /**
   * Dials the members without a pin now instead of at their next backoff (an unknown peer knocked: at a
   * fleet's first start, one of them). At most once a second, so knocking cannot keep this node dialing.
   */
  dialUnpinned (): void {
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

  stop (): void {
    this.stopped = true
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
        return
      } catch (err) {
        this.init.log.debug({ addr, err: (err as Error).message }, 'dial failed')
      }
    }
    const delay = Math.min(this.init.maxMs, (this.delays.get(member) ?? this.init.minMs / 2) * 2)
    this.delays.set(member, delay)
    this.schedule(member, delay)
  }
}
