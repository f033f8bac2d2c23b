import type { ControlRequest, ControlResponse, LedgerEntry, NodeStatus, PeerRow } from '@fst/protocol'
import type { ListQuery } from '../ledger/query.js'
import type { ControlHandler } from './server.js'

/** What the control socket can ask of a node; each answer is built by the part that owns it. */
export interface ControlDeps {
  publish: (input: Record<string, unknown>) => Promise<ControlResponse>
  status: () => Promise<NodeStatus>
  peers: () => PeerRow[]
  list: (query: ListQuery) => LedgerEntry[]
  /** Forgets a first-use pin; false when the entry has none. */
  repin: (entry: string) => boolean
}

/** Dispatches control requests by `op`; an unknown op or a malformed argument is answered, never thrown. */
export function controlHandler (deps: ControlDeps): ControlHandler {
  return async (req: ControlRequest): Promise<ControlResponse> => {
    switch (req.op) {
      case 'publish': return deps.publish(req)
      case 'status': return { ok: true, ...await deps.status() }
      case 'peers': return { ok: true, peers: deps.peers() }
      case 'list': return { ok: true, entries: deps.list(req) }
      case 'repin': {
        if (typeof req.peer === 'string' && deps.repin(req.peer)) return { ok: true }
        return { ok: false, code: 'not_found', error: `no first-use pin for ${typeof req.peer === 'string' ? JSON.stringify(req.peer.slice(0, 200)) : typeof req.peer}` }
      }
      default: return { ok: false, code: 'bad_request', error: `unknown op ${JSON.stringify((req as { op: unknown }).op)}` }
    }
  }
}
