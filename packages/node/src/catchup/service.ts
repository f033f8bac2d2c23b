import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import type { Host } from '../mesh/host.js'
import type { SignedEntry } from '@fst/protocol'
import { type CatchupState, type FrameChannel, type PullResult, pullCatchup, serveCatchup } from './session.js'
import { SETTLE_TIMING, type SettleTiming, settleWhenQuiet } from './settle.js'
import { CATCHUP_PROTOCOL, type EntryPolicy, MAX_FRAME_BYTES } from './wire.js'

export interface CatchupInit {
  host: Host
  /** The ledger and held reports (catchup/state.ts). */
  state: CatchupState
  isMember: (peerId: string) => boolean
  policy: () => EntryPolicy
  /** Applies validated entries (ledger + scripts); returns how many changed the ledger. */
  apply: (entries: SignedEntry[]) => number
  /** Most entries one pull reads; past it the pull ends and `onPull` sees `limited`. */
  maxEntriesPerPull: number
  /** Pull from every connected peer this often as well (anti-entropy); 0 for only on connect. */
  intervalMs: number
  /** Longest one exchange may take. */
  timeoutMs: number
  /** A counter of ledger changes: the settle pull waits for a wave to pass (catchup/settle.ts). */
  changes: () => number
  /** @default SETTLE_TIMING */
  settle?: SettleTiming
  log: Logger
  onPull?: (outcome: 'same' | 'synced' | 'failed', result?: PullResult, peer?: string) => void
}

/** Retries of a pull that failed right after a connect (the peer may not have registered the protocol yet). */
const RETRIES = 3
const RETRY_MS = 1000

/** Length-prefixed catch-up frames over a libp2p stream (exported for the tests' hostile servers). */
export function frameChannel (stream: Stream): FrameChannel {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
  return {
    read: async () => (await lp.read()).subarray(),
    write: async bytes => { await lp.write(bytes) }
  }
}

/**
 * Catch-up over libp2p: serves `/fst/catchup/2.0.0` and pulls from a peer whenever it connects (and once
 * more when the link has settled), and periodically. Each side pulls from the other, so one connect
 * reconciles both ways. Pulls run one at a time
 * (a trigger during a peer's pull runs one more pull afterwards): a node rejoining N peers fetches what it
 * missed from the first, and its pulls from the others then find equal roots, instead of N copies of the
 * same 100,000 entries racing for the CPU.
 */
export class Catchup {
  private readonly running = new Map<string, Promise<void>>()
  private readonly again = new Set<string>()
  /** Cancels the settle pull due for each recently connected peer. */
  private readonly settling = new Map<string, () => void>()
  /** The end of the queue of pulls; each pull starts when the one before it settled. */
  private tail: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | null = null
  private stopped = false

  constructor (private readonly init: CatchupInit) {}

  async start (): Promise<void> {
    await this.init.host.handle(CATCHUP_PROTOCOL, (stream, connection) => this.serve(stream, connection), { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.init.host.addEventListener('peer:connect', this.onConnect)
    // peers that connected while this node was still starting
    this.pullAll(true)
    if (this.init.intervalMs > 0) this.timer = setInterval(() => this.pullAll(), this.init.intervalMs)
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.pull(evt.detail)
    this.settleLater(evt.detail)
  }

  /** Pulls from every connected member (`settle`: and again once their links have settled). */
  pullAll (settle = false): void {
    const seen = new Set<string>()
    for (const conn of this.init.host.getConnections()) {
      const id = conn.remotePeer.toString()
      if (seen.has(id)) continue
      seen.add(id)
      this.pull(conn.remotePeer)
      if (settle) this.settleLater(conn.remotePeer)
    }
  }

  /**
   * One more pull once the link has settled, if the peer is still connected then. The first one runs at once,
   * before the two sides know each other's gossipsub subscriptions; what the peer publishes in between reaches
   * us only by relays, and a node that has just started answers its queued reports exactly then (the soak lost
   * bans of 30-60 s that way). A later connect of the same peer starts the wait again.
   */
  private settleLater (peer: PeerId): void {
    const id = peer.toString()
    this.settling.get(id)?.()
    this.settling.set(id, settleWhenQuiet(this.init.settle ?? SETTLE_TIMING, this.init.changes, () => {
      this.settling.delete(id)
      if (this.init.host.getConnections(peer).length > 0) this.pull(peer)
    }))
  }

  /** Schedules a pull from one peer (coalesced with one under way). */
  pull (peer: PeerId): void {
    const id = peer.toString()
    if (this.stopped || !this.init.isMember(id)) return
    if (this.running.has(id)) {
      this.again.add(id)
      return
    }
    const run = this.pullWithRetry(peer).finally(() => {
      this.running.delete(id)
      if (this.again.delete(id)) this.pull(peer)
    })
    this.running.set(id, run)
  }

  private async pullWithRetry (peer: PeerId): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.oneAtATime(() => this.pullOnce(peer))
        return
      } catch (err) {
        this.init.onPull?.('failed')
        const connected = this.init.host.getConnections(peer).length > 0
        // a listed peer that is not a node (the metrics service) never speaks catch-up; a node that is
        // still starting may not yet, and a peer that left took its stream along: retry (or stop) quietly,
        // and warn only when the last attempt with a connected peer failed
        const final = attempt >= RETRIES && connected
        const level = (err as Error).name === 'UnsupportedProtocolError' || !final ? 'debug' : 'warn'
        this.init.log[level]({ peer: peer.toString(), attempt, err: (err as Error).message }, 'catch-up pull failed')
        if (attempt >= RETRIES || !connected) return
        await new Promise(resolve => setTimeout(resolve, RETRY_MS * attempt))
      }
    }
  }

  /** Runs `work` after every pull queued before it; the retry back-off waits outside the queue. */
  private oneAtATime (work: () => Promise<void>): Promise<void> {
    const run = this.tail.then(() => (this.stopped ? undefined : work()))
    this.tail = run.catch(() => {})
    return run
  }

  private async pullOnce (peer: PeerId): Promise<void> {
    const signal = AbortSignal.timeout(this.init.timeoutMs)
    const started = performance.now()
    const stream = await this.init.host.dialProtocol(peer, CATCHUP_PROTOCOL, { signal })
    try {
      const result = await withAbort(pullCatchup(frameChannel(stream), this.init.state, this.init.policy, this.init.apply, this.init.maxEntriesPerPull), signal)
      // a pull stopped at its bound leaves the server mid-stream: end it here rather than read the rest
      if (result.limited) stream.abort(new Error('per-pull bound reached'))
      else await stream.close({ signal })
      this.init.onPull?.(result.same ? 'same' : 'synced', result, peer.toString())
      if (!result.same) {
        this.init.log.info({ peer: peer.toString(), ms: Math.round(performance.now() - started), ...result }, 'caught up with peer')
      }
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (this.stopped || !this.init.isMember(peer)) {
      stream.abort(new Error('not a listed peer'))
      return
    }
    const signal = AbortSignal.timeout(this.init.timeoutMs)
    try {
      const { sent } = await withAbort(serveCatchup(frameChannel(stream), this.init.state), signal)
      await stream.close({ signal })
      if (sent > 0) this.init.log.info({ peer, sent }, 'served catch-up')
    } catch (err) {
      this.init.log.debug({ peer, err: (err as Error).message }, 'catch-up serve ended with an error')
      stream.abort(err as Error)
    }
  }

  /** Stops pulling and serving; pulls under way end when the host closes their streams (see `settled`). */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    for (const cancel of this.settling.values()) cancel()
    this.settling.clear()
    this.init.host.removeEventListener('peer:connect', this.onConnect)
    await this.init.host.unhandle(CATCHUP_PROTOCOL).catch(() => {})
  }

  /** Resolves when no pull is under way. */
  async settled (): Promise<void> {
    await Promise.allSettled([...this.running.values()])
  }
}

function withAbort<T> (work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new Error('aborted'))
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
