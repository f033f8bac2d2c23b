import pWaitFor from 'p-wait-for'
import type { Mesh } from './mesh.js'

/** Counters a node reports in `fst status --json` under `defences`. */
export interface Defences {
  rejected: Record<string, number>
  refused: Record<string, number>
  held: Record<string, number>
  /** Received entries refused: catch-up validation by reason, bounds (origin_limit, pull_limit), unban authority. */
  entries?: Record<string, number>
}

/** Rejected mesh messages, refused hook calls and quorum-held events of one node, by reason. */
export async function defences (mesh: Mesh, index: number): Promise<Defences> {
  const out = await mesh.fst(index, ['status', '--json'])
  if (out.code !== 0) throw new Error(`status ${index} failed: ${out.stderr}`)
  return (JSON.parse(out.stdout) as { defences: Defences }).defences
}

/** One peer's gossipsub score as a node sees it (`fst peers --json`), or null when not connected. */
export async function peerScore (mesh: Mesh, index: number, peerId: string): Promise<number | null> {
  const out = await mesh.fst(index, ['peers', '--json'])
  if (out.code !== 0) throw new Error(`peers ${index} failed: ${out.stderr}`)
  const rows = JSON.parse(out.stdout) as Array<{ peerId: string | null, score: number | null }>
  return rows.find(r => r.peerId === peerId)?.score ?? null
}

/** Sum of all counts in one group. */
export function total (counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

/** Waits until a node's score of a peer is at or below `limit` (gossipsub refreshes scores about once a second). */
export async function waitScoreBelow (mesh: Mesh, index: number, peerId: string, limit: number, timeout = 10_000): Promise<number> {
  let last: number | null = null
  await pWaitFor(async () => {
    last = await peerScore(mesh, index, peerId)
    return last !== null && last <= limit
  }, { interval: 100, timeout }).catch(() => {
    throw new Error(`node ${index}: score of ${peerId} stayed at ${last}, expected <= ${limit}`)
  })
  return last!
}
