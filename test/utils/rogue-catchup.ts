import { CATCHUP_PROTOCOL, encodeFrame, frameChannel, Provenance, WIRE_BUCKETS } from '@fst/node'
import type { LedgerEntry } from '@fst/protocol'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Rogue } from './rogue.js'

/** One `entries` frame as a hostile server sends it: a root-signature table and wire entries. */
export interface ForgedPage { s: string[], e: unknown[] }

/**
 * Pages of entries as the rogue's key signs them, `perBatch` entries under one root. An entry whose origin is
 * not the rogue's is a forgery: its leaf names that origin, but the root is signed by the rogue. Lazy, so a
 * server "offering" 500,000 entries signs only what a client reads.
 */
export function * signedPages (key: PrivateKey, entries: Iterable<LedgerEntry>, perBatch = 2000): Generator<ForgedPage> {
  const signer = new Provenance(key, peerIdFromPrivateKey(key).toString())
  let batch: LedgerEntry[] = []
  const page = (): ForgedPage => {
    const { s, proofs } = signer.signBatch(batch)
    const e = batch.map((x, i) => [x.action, x.name, x.protocol, x.port, x.ip, x.time, x.duration, x.origin, [0, proofs[i]!.i, proofs[i]!.n, proofs[i]!.p]])
    batch = []
    return { s: [s], e }
  }
  for (const entry of entries) {
    batch.push(entry)
    if (batch.length === perBatch) yield page()
  }
  if (batch.length > 0) yield page()
}

/**
 * Makes the rogue answer catch-up pulls (protocol v2) with whatever `pages` yields: every bucket differs
 * (digests all 0xff), then the pages, honouring the client's `more` credit, then `end`. Counts the entries it
 * got to send, in all and in its longest pull.
 */
export async function serveForgedCatchup (rogue: Rogue, pages: () => Iterable<ForgedPage>): Promise<{ sent: number, pulls: number, mostInOnePull: number }> {
  const stats = { sent: 0, pulls: 0, mostInOnePull: 0 }
  await rogue.host.handle(CATCHUP_PROTOCOL, async stream => {
    const ch = frameChannel(stream)
    stats.pulls++
    let sent = 0
    try {
      await ch.read() // hello
      await ch.write(encodeFrame({ t: 'digests', d: Buffer.alloc(WIRE_BUCKETS * 8, 0xff).toString('base64') }))
      await ch.read() // fetch
      let credit = 2
      for (const page of pages()) {
        if (credit === 0) {
          await ch.read() // more
          credit++
        }
        credit--
        await ch.write(encodeFrame({ t: 'entries', ...page } as never))
        stats.sent += page.e.length
        sent += page.e.length
        stats.mostInOnePull = Math.max(stats.mostInOnePull, sent)
      }
      await ch.write(encodeFrame({ t: 'end' }))
      await stream.close()
    } catch (err) {
      // the client ends a pull at its bound: expected
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 16 })
  return stats
}
