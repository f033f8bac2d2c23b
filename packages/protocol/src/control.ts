/**
 * The control socket speaks newline-delimited JSON: one request per line, one response per line,
 * in order, so a client may pipeline thousands of requests on one connection.
 */

/** Longest request line the node reads; longer lines close the connection. */
export const MAX_CONTROL_LINE = 64 * 1024

export type ControlRequest =
  /**
   * `manual`: an operator's `fst ban`/`fst unban`, which may lift a ban of another origin; a hook's unban of one stays local.
   * `deadline` (ms since the epoch): the node must not take up the report after it, because the client gives
   * up waiting soon after and queues the report in the spool; it answers `deadline_passed`, and a client that
   * is still waiting queues the report then.
   */
  | { op: 'publish', action: string, name: string, protocol: string, port: string, ip: string, duration?: number, manual?: boolean, deadline?: number }
  | { op: 'status' }
  | { op: 'peers' }
  | { op: 'list', action?: string, name?: string, ip?: string, all?: boolean, overlapping?: boolean }
  | { op: 'repin', peer: string }

export type ControlResponse =
  | { ok: true, [key: string]: unknown }
  | { ok: false, error: string, code: string }

/** One row of `peers`: a sync-peers.txt entry and what the node knows of it. */
export interface PeerRow {
  /** The entry exactly as written in sync-peers.txt. */
  entry: string
  /** This node's own entry. */
  self: boolean
  peerId: string | null
  /** Where the ID comes from: pinned in the file, this node itself, learned on first use, or not yet known. */
  pinned: 'file' | 'self' | 'first-use' | 'none'
  addresses: string[]
  connected: boolean
  /** When the peer's last accepted message arrived (ms since the epoch). */
  lastMessage: number | null
  /** gossipsub peer score (null when not connected, or unknown to this gossipsub version). */
  score: number | null
  /**
   * The entry's address answered with another key than the pinned one (`PEER KEY CHANGED` in the log): that
   * key and when it was first seen (ms since the epoch); null when not (or no longer, after `fst repin`).
   * Absent from nodes before 0.2.0.
   */
  keyChanged?: { peerId: string, since: number } | null
}

/** The answer to `status`. */
export interface NodeStatus {
  peerId: string
  /** Connected peers' IDs. */
  peers: string[]
  /** Peers subscribed to the topic. */
  meshPeers: string[]
  gossipPeers: number
  connections: number
  listen: string[]
  /** Ledger size; `held`: quorum reports held; `root`: the catch-up root (equal on nodes that agree). */
  ledger: { entries: number, active: number, held?: number, root?: string }
  /** Events waiting for the runner. */
  queue: number
  /** Reports made while the node was down, waiting in the spool to be published. */
  spool?: { depth: number }
  /**
   * The node process's memory in MB: resident set; the JavaScript heap in use and allocated; memory outside the heap
   * held by JavaScript objects (Buffers); and how many memory-reducing collections ran since the start (one after the
   * start and one after each wave of changes, once the node is quiet: a reading after one is a reading at rest).
   */
  memory?: { rssMb: number, heapUsedMb: number, heapTotalMb: number, externalMb: number, collections?: number }
  /** Mesh messages this node signed and sent, valid ones accepted from others, and hook calls that changed nothing. */
  messages: { published: number, accepted: number, suppressed: number }
  /** Entries catch-up brought that changed the ledger since the node started (gossip's are in `messages.accepted`). */
  catchup?: { applied: number }
  /** Rejected mesh messages and refused hook calls by reason, and events held for a quorum by action. */
  defences: {
    rejected: Record<string, number>
    refused: Record<string, number>
    held: Record<string, number>
    /** Received entries refused: catch-up validation by reason (bad_signature, …), bounds and unban authority. */
    entries?: Record<string, number>
  }
}
