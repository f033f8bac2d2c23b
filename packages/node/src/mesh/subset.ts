import type { Connection } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Admission, Member, Membership } from '../trust/membership.js'

/** Pin-only dials in flight at once (a fleet's first start, entries without `ID@`). */
const PROBES = 4
/**
 * One pin-only probe starts at most this often. A probe of an entry that fails at once (no route, a name
 * that does not resolve) used to start the next one from its own failure: with 10,000 such entries that was
 * a loop of microtasks that kept the node at 100 % CPU, starved its control socket for minutes and grew it
 * to 900 MB. Ten a second learns 10,000 keys in under 20 minutes; `ID@host` lines need no probe at all.
 */
const PROBE_INTERVAL_MS = 100
/**
 * Subset dials in flight at once. A fleet starting together, or refilling after a mass failure, would
 * otherwise open target-many handshakes per node at once; most land on members that are full, starting or
 * rate-limiting inbound connections (libp2p takes 5 a second per source address), fail, and are retried: a
 * storm that kept a 60-node fleet behind 20 ms links from connecting at all.
 */
const DIALS = 4
/** How often the subset is checked besides on events: refill, probes whose backoff ran out, races over the bound. */
const TICK_MS = 2000
/** An admitted connection that has not opened within this time no longer holds its slot. */
const RESERVE_MS = 10_000
/** A rotated-out connection that has not closed gracefully within this time is aborted, and its slot reused. */
const CLOSE_MS = 5000

/** The part of the libp2p host the subset uses. */
export interface SubsetHost {
  getConnections(): Connection[]
  addEventListener(type: 'connection:open', listener: (evt: CustomEvent<Connection>) => void): void
}

export interface SubsetInit {
  host: SubsetHost
  membership: Membership
  /** Most connections to members, inbound and outbound together. */
  maxPeers: number
  /** One connection is swapped for a random other member this often; 0: never. */
  rotateMs: number
  /** Backoff for a member whose dial failed or was refused: starts at minMs, doubles up to maxMs. */
  minMs: number
  maxMs: number
  /** Resolves a member's entry and dials it; true once connected. */
  connect: (member: Member) => Promise<boolean>
  log: Logger
  random?: () => number
}

type Purpose = 'subset' | 'probe'

/**
 * Membership is not connectivity. A fleet with more than `maxPeers` other members is partially connected:
 * the node dials random members until it holds `target` (two thirds of the bound) and accepts inbound ones
 * until it holds `maxPeers`, so every node ends between the two and the random graph they form is connected
 * with overwhelming probability. Every `rotateMs` one connection this node dialed is closed and a random
 * member not connected yet is dialed, so the subset is refreshed (and each new connection runs a catch-up
 * pull, which spreads what one part of the fleet missed).
 *
 * Gossip is signed and a signer must be a pinned member, but a node never dials most members. An entry
 * without `ID@` is therefore dialed once only to learn its key (a probe: the handshake pins the first ID
 * seen at the entry's address, as a first-use pin always is, and the connection is then refused by our own
 * gater), a few at a time, until every entry is pinned. Pins are never learned from inbound connections: an
 * inbound peer's address does not say which entry it is.
 *
 * In a fleet of at most `maxPeers` other members nothing here applies: the Dialer keeps a connection to
 * every member, as before.
 */
export class PeerSubset implements Admission {
  private readonly purposes = new Map<Member, Purpose>()
  private readonly backoff = new Map<Member, { until: number, delay: number }>()
  private readonly reserved = new Map<string, number>()
  private tickTimer: NodeJS.Timeout | null = null
  private rotateTimer: NodeJS.Timeout | null = null
  private fillTimer: NodeJS.Timeout | null = null
  private probeTimer: NodeJS.Timeout | null = null
  /** When each entry was last probed (members are replaced on SIGHUP: weak keys). */
  private readonly lastProbe = new WeakMap<Member, number>()
  /** performance.now() before which no probe starts. */
  private nextProbeAt = 0
  private running = false
  /** Wait before the next fill after a failed dial: doubles on each failure up to maxMs, back to minMs on a success. */
  private fillDelay: number
  private readonly random: () => number

  constructor (private readonly init: SubsetInit) {
    this.random = init.random ?? Math.random
    this.fillDelay = init.minMs
    init.host.addEventListener('connection:open', evt => {
      this.reserved.delete(evt.detail.remotePeer.toString())
      // after dedupeConnections has closed a duplicate (it waits one tick too)
      if (this.running) setTimeout(() => this.trim(), 0)
    })
  }

  /** True when the fleet is larger than the bound: only then is a subset kept. */
  partial (): boolean {
    return this.init.membership.others().length > this.init.maxPeers
  }

  /** How many members the node dials up to by itself; inbound ones may take it up to maxPeers. */
  get target (): number {
    return Math.max(1, Math.ceil((this.init.maxPeers * 2) / 3))
  }

  /** Starts (or restarts, after SIGHUP) keeping the subset. */
  start (): void {
    this.running = true
    this.fill()
    this.probeUnpinned()
    if (this.tickTimer === null) this.tick()
    if (this.rotateTimer === null && this.init.rotateMs > 0) this.scheduleRotation()
  }

  stop (): void {
    this.running = false
    for (const timer of [this.tickTimer, this.rotateTimer, this.fillTimer, this.probeTimer]) if (timer !== null) clearTimeout(timer)
    this.tickTimer = this.rotateTimer = this.fillTimer = this.probeTimer = null
  }

  /** A connection closed: refill soon (coalesced). */
  onDisconnect (): void {
    if (!this.running || this.fillTimer !== null) return
    this.fillTimer = setTimeout(() => { this.fillTimer = null; this.fill() }, this.jitter(this.fillDelay))
  }

  inbound (peerId: string): boolean {
    return this.admit(peerId, 'inbound')
  }

  outbound (member: Member | undefined, peerId: string): boolean {
    // the handshake pinned the key: that was all a probe was for
    if (member !== undefined && this.purposes.get(member) === 'probe') return false
    return this.admit(peerId, 'outbound')
  }

  /** Peer IDs of the members this node has an open connection to. */
  connectedMembers (): Set<string> {
    return this.members(c => c.status === 'open')
  }

  /**
   * Peer IDs of the members whose connection still holds a slot: open, or closing (a graceful close waits
   * for the streams, which takes a while on a busy machine, and the connection counts until it is gone).
   */
  private slotHolders (): Set<string> {
    return this.members(c => c.status === 'open' || c.status === 'closing')
  }

  private members (holds: (c: Connection) => boolean): Set<string> {
    const out = new Set<string>()
    for (const c of this.init.host.getConnections()) {
      const id = c.remotePeer.toString()
      if (holds(c) && this.init.membership.isMember(id)) out.add(id)
    }
    return out
  }

  /**
   * Dials pin-only probes to entries without a known ID, PROBES at a time and one per PROBE_INTERVAL_MS,
   * until every entry is pinned. Called again by each probe that ends and by the tick; a call before the
   * next probe may start leaves one timer for it.
   */
  probeUnpinned (): void {
    if (!this.running || !this.partial() || this.probeTimer !== null) return
    if ([...this.purposes.values()].filter(p => p === 'probe').length >= PROBES) return
    const wait = this.nextProbeAt - performance.now()
    if (wait > 0) {
      this.probeTimer = setTimeout(() => { this.probeTimer = null; this.probeUnpinned() }, wait)
      return
    }
    // the entry probed longest ago (never, first): at this pace a random pick would keep retrying the
    // entries with short backoffs and reach the last reachable one only by chance
    let member: Member | undefined
    for (const m of this.shuffled(this.init.membership.unpinned())) {
      if (this.purposes.has(m) || this.backingOff(m)) continue
      if (member === undefined || (this.lastProbe.get(m) ?? -1) < (this.lastProbe.get(member) ?? -1)) member = m
    }
    if (member === undefined) return
    this.nextProbeAt = performance.now() + PROBE_INTERVAL_MS
    this.lastProbe.set(member, this.nextProbeAt)
    void this.dial(member, 'probe')
    this.probeUnpinned()
  }

  /** Dials random members not connected until this node holds `target` connections (counting dials in flight). */
  fill (): void {
    if (!this.running || !this.partial()) return
    const connected = this.connectedMembers()
    const inFlight = [...this.purposes.values()].filter(p => p === 'subset').length
    let need = Math.min(this.target - connected.size - inFlight, DIALS - inFlight)
    if (need <= 0) return
    for (const member of this.shuffled(this.candidates(connected))) {
      if (need-- <= 0) break
      void this.dial(member, 'subset')
    }
  }

  /** Closes the newest connections beyond the bound (simultaneous admissions can overshoot it). */
  trim (): void {
    if (!this.running || !this.partial()) return
    const byPeer = new Map<string, Connection>()
    for (const c of this.init.host.getConnections()) if (c.status === 'open') byPeer.set(c.remotePeer.toString(), c)
    const surplus = byPeer.size - this.init.maxPeers
    if (surplus <= 0) return
    const newestFirst = [...byPeer.values()].sort((a, b) =>
      (a.direction === b.direction ? 0 : a.direction === 'inbound' ? -1 : 1) || b.timeline.open - a.timeline.open)
    for (const conn of newestFirst.slice(0, surplus)) {
      this.init.log.debug({ peer: conn.remotePeer.toString(), direction: conn.direction }, 'closing a connection over the bound')
      void conn.close().catch(() => conn.abort(new Error('over the connection bound')))
    }
  }

  /** Swaps one connection this node dialed (any, if it dialed none) for a random member not connected. */
  rotate (): void {
    if (!this.running || !this.partial()) return
    const connected = this.connectedMembers()
    if (connected.size < this.target) {
      this.fill()
      return
    }
    const candidates = this.candidates(connected)
    if (candidates.length === 0) return
    const open = this.init.host.getConnections().filter(c => c.status === 'open' && connected.has(c.remotePeer.toString()))
    const dialed = open.filter(c => c.direction === 'outbound')
    const pool = dialed.length > 0 ? dialed : open
    const victim = pool[Math.floor(this.random() * pool.length)]
    const next = candidates[Math.floor(this.random() * candidates.length)]!
    if (victim === undefined) {
      void this.dial(next, 'subset')
      return
    }
    this.init.log.debug({ closing: victim.remotePeer.toString(), dialing: next.entry.text }, 'rotating one connection')
    // the replacement is dialed once the slot is free: until then the closing connection still holds it
    void victim.close({ signal: AbortSignal.timeout(CLOSE_MS) })
      .catch(() => victim.abort(new Error('rotated')))
      .finally(() => { if (this.running) void this.dial(next, 'subset') })
  }

  private admit (peerId: string, direction: 'inbound' | 'outbound'): boolean {
    if (!this.partial()) return true
    const connected = this.slotHolders()
    // a second connection to a connected peer: dedupeConnections keeps one of the two
    if (connected.has(peerId)) return true
    const now = performance.now()
    for (const [id, until] of this.reserved) if (until < now || connected.has(id)) this.reserved.delete(id)
    const occupied = new Set([...connected, ...this.reserved.keys()]).size
    if (occupied >= this.init.maxPeers) {
      this.init.log.debug({ peerId, direction, occupied }, 'refused a member: connection bound reached')
      return false
    }
    this.reserved.set(peerId, now + RESERVE_MS)
    return true
  }

  private candidates (connected: Set<string>): Member[] {
    return this.init.membership.others().filter(m =>
      !(m.peerId !== undefined && connected.has(m.peerId)) && !this.purposes.has(m) && !this.backingOff(m))
  }

  private async dial (member: Member, purpose: Purpose): Promise<void> {
    this.purposes.set(member, purpose)
    let connected = false
    try {
      connected = await this.init.connect(member)
    } finally {
      this.purposes.delete(member)
    }
    const done = purpose === 'probe' ? member.peerId !== undefined : connected
    if (done) {
      this.backoff.delete(member)
    } else {
      const delay = Math.min(this.init.maxMs, (this.backoff.get(member)?.delay ?? this.init.minMs / 2) * 2)
      this.backoff.set(member, { until: performance.now() + this.jitter(delay), delay })
    }
    if (purpose === 'probe') {
      this.probeUnpinned()
    } else if (connected) {
      this.fillDelay = this.init.minMs
      this.fill()
    } else {
      this.fillDelay = Math.min(this.init.maxMs, this.fillDelay * 2)
      this.onDisconnect()
    }
  }

  private backingOff (member: Member): boolean {
    const b = this.backoff.get(member)
    return b !== undefined && b.until > performance.now()
  }

  /** The housekeeping tick: top up, probe unpinned entries, trim past the bound. */
  private tick (): void {
    this.tickTimer = this.repeat(TICK_MS, () => {
      this.tickTimer = null
      this.fill()
      this.probeUnpinned()
      this.trim()
      this.tick()
    })
  }

  /** Swaps one dialed connection for a random other member, every rotateMs. */
  private scheduleRotation (): void {
    this.rotateTimer = this.repeat(this.init.rotateMs, () => {
      this.rotateTimer = null
      this.rotate()
      this.scheduleRotation()
    })
  }

  /** A jittered timer whose work runs only while the subset runs. */
  private repeat (ms: number, work: () => void): NodeJS.Timeout {
    return setTimeout(() => { if (this.running) work() }, this.jitter(ms))
  }

  private jitter (ms: number): number {
    return ms * (0.8 + this.random() * 0.4)
  }

  private shuffled<T> (items: T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!]
    }
    return out
  }
}
