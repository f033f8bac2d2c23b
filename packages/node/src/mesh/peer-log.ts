import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Membership } from '../trust/membership.js'
import type { Host } from './host.js'

/**
 * Info lines when a listed peer comes up or goes down, naming its sync-peers.txt entry: what an administrator
 * looks for first when bans stop arriving. libp2p emits one peer:connect / peer:disconnect per peer (not per
 * connection), so a duplicate connection closed at once logs nothing. Returns the function that stops it.
 */
export function logPeerChanges (host: Pick<Host, 'addEventListener' | 'removeEventListener'>, membership: () => Membership, log: Logger): () => void {
  const since = new Map<string, number>()
  const entryOf = (id: string) => membership().list().find(m => m.peerId === id)?.entry.text ?? null
  const up = (evt: CustomEvent<PeerId>) => {
    const peerId = evt.detail.toString()
    since.set(peerId, Date.now())
    log.info({ entry: entryOf(peerId), peerId }, 'peer up')
  }
  const down = (evt: CustomEvent<PeerId>) => {
    const peerId = evt.detail.toString()
    const start = since.get(peerId)
    since.delete(peerId)
    log.info({ entry: entryOf(peerId), peerId, upS: start === undefined ? null : Math.round((Date.now() - start) / 1000) }, 'peer down')
  }
  host.addEventListener('peer:connect', up)
  host.addEventListener('peer:disconnect', down)
  return () => {
    host.removeEventListener('peer:connect', up)
    host.removeEventListener('peer:disconnect', down)
  }
}
