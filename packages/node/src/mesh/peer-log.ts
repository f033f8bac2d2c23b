import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Membership } from '../trust/membership.js'
import type { Host } from './host.js'

/**
 * How long a lost peer has to come back before "peer down" is logged. While a fleet pins itself (and when two
 * nodes dial each other at once), a connection is often closed moments after it opened and another one takes
 * its place: from the administrator's side the peer never went away.
 */
export const DOWN_SETTLE_MS = 1500

/**
 * Info lines when a listed peer comes up or goes down, naming its sync-peers.txt entry: what an administrator
 * looks for first when bans stop arriving. libp2p emits one peer:connect / peer:disconnect per peer (not per
 * connection), so a duplicate connection closed at once logs nothing; a peer that is back within
 * DOWN_SETTLE_MS logs nothing either (debug only). Returns the function that stops it.
 */
export function logPeerChanges (host: Pick<Host, 'addEventListener' | 'removeEventListener'>, membership: () => Membership, log: Logger, settleMs = DOWN_SETTLE_MS): () => void {
  const since = new Map<string, number>()
  const pendingDown = new Map<string, NodeJS.Timeout>()
  const entryOf = (id: string) => membership().list().find(m => m.peerId === id)?.entry.text ?? null
  const up = (evt: CustomEvent<PeerId>) => {
    const peerId = evt.detail.toString()
    const pending = pendingDown.get(peerId)
    if (pending !== undefined) {
      clearTimeout(pending)
      pendingDown.delete(peerId)
      log.debug({ entry: entryOf(peerId), peerId }, 'peer reconnected at once')
      return
    }
    since.set(peerId, Date.now())
    log.info({ entry: entryOf(peerId), peerId }, 'peer up')
  }
  const down = (evt: CustomEvent<PeerId>) => {
    const peerId = evt.detail.toString()
    if (pendingDown.has(peerId)) return
    // how long it was up, to the moment it went
    const start = since.get(peerId)
    const upS = start === undefined ? null : Math.round((Date.now() - start) / 1000)
    const timer = setTimeout(() => {
      pendingDown.delete(peerId)
      since.delete(peerId)
      log.info({ entry: entryOf(peerId), peerId, upS }, 'peer down')
    }, settleMs)
    // a pending line must not keep a stopping process alive
    timer.unref()
    pendingDown.set(peerId, timer)
  }
  host.addEventListener('peer:connect', up)
  host.addEventListener('peer:disconnect', down)
  return () => {
    host.removeEventListener('peer:connect', up)
    host.removeEventListener('peer:disconnect', down)
    for (const timer of pendingDown.values()) clearTimeout(timer)
    pendingDown.clear()
  }
}
