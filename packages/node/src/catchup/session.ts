import { encodedEventSize, type SignedEntry } from '@fst/protocol'
import { BUCKETS, diffBuckets } from '../ledger/digest.js'
import {
  CATCHUP_VERSION, decodeFrame, ENTRIES_CREDIT, type EntryPolicy, encodeFrame, type Frame, MAX_ENTRIES_PER_FRAME, MAX_FRAME_BYTES, toWire, validateEntry, WIRE_BUCKETS, type WireEntry, withSignature
} from './wire.js'

/** What catch-up reconciles: the ledger and the held quorum reports, as one set of digests (catchup/state.ts). */
export interface CatchupState {
  root(): string
  /** WIRE_BUCKETS digests: the ledger's buckets, then the held reports'. */
  digests(): Uint8Array
  /** Entries of one wire bucket, with proofs; entries without one (a v1 ledger's) are not served. */
  entriesOf(bucket: number): SignedEntry[]
}

/** Length-prefixed frames in both directions; `read` throws when the stream ends. */
export interface FrameChannel {
  read(): Promise<Uint8Array>
  write(bytes: Uint8Array): Promise<void>
}

/** A peer broke the protocol: bad frame, wrong order, or an error frame. */
export class CatchupError extends Error {
  static override name = 'CatchupError'
  override name = 'CatchupError'
  constructor (message: string, readonly code: string) {
    super(message)
  }
}

/** What one pull did. */
export interface PullResult {
  /** The roots matched: nothing to do. */
  same: boolean
  /** Buckets that differed. */
  buckets: number
  /** Entries received. */
  received: number
  /** Entries that changed the local ledger. */
  applied: number
  /** Entries refused by validation, by reason. */
  refused: Record<string, number>
  /** The pull stopped at the per-pull bound (config `limits.maxEntriesPerPull`). */
  limited: boolean
}

/** Frame bytes kept under the limit with room for the envelope and the origin of the last entry. */
const PAGE_BYTES = MAX_FRAME_BYTES - 16 * 1024

async function next<T extends Frame['t']> (ch: FrameChannel, ...expected: T[]): Promise<Extract<Frame, { t: T }>> {
  const decoded = decodeFrame(await ch.read())
  if (!decoded.valid) throw new CatchupError(decoded.error, decoded.reason)
  const frame = decoded.value
  if (frame.t === 'error') throw new CatchupError(`peer said: ${frame.error}`, frame.code)
  if (!(expected as string[]).includes(frame.t)) throw new CatchupError(`expected ${expected.join('|')}, got ${frame.t}`, 'bad_order')
  return frame as Extract<Frame, { t: T }>
}

/**
 * Server side of one catch-up exchange: compare roots, send bucket digests, then stream the entries of the
 * buckets the client asks for in pages of at most MAX_ENTRIES_PER_FRAME entries and MAX_FRAME_BYTES bytes.
 */
export async function serveCatchup (ch: FrameChannel, ledger: CatchupState): Promise<{ sent: number }> {
  try {
    return await serve(ch, ledger)
  } catch (err) {
    // tell a well-meaning client what it got wrong before the stream is reset
    if (err instanceof CatchupError) await ch.write(encodeFrame({ t: 'error', code: err.code, error: err.message })).catch(() => {})
    throw err
  }
}

async function serve (ch: FrameChannel, state: CatchupState): Promise<{ sent: number }> {
  const hello = await next(ch, 'hello')
  if (hello.root === state.root()) {
    await ch.write(encodeFrame({ t: 'same' }))
    return { sent: 0 }
  }
  await ch.write(encodeFrame({ t: 'digests', d: Buffer.from(state.digests()).toString('base64') }))
  const fetch = await next(ch, 'fetch')
  let page: WireEntry[] = []
  let sigs = new Map<string, number>()
  let bytes = 0
  let sent = 0
  let credit = ENTRIES_CREDIT
  const flush = async () => {
    if (page.length === 0) return
    if (credit === 0) {
      await next(ch, 'more')
      credit++
    }
    credit--
    await ch.write(encodeFrame({ t: 'entries', s: [...sigs.keys()], e: page }))
    sent += page.length
    page = []
    sigs = new Map()
    bytes = 0
  }
  const sigIndex = (s: string) => {
    let i = sigs.get(s)
    if (i === undefined) {
      i = sigs.size
      sigs.set(s, i)
      bytes += s.length + 3
    }
    return i
  }
  for (const bucket of new Set(fetch.b)) {
    // snapshot the bucket: the ledger may change while earlier pages are written
    const entries = state.entriesOf(bucket)
    for (const e of entries) {
      // a signature not in the page's table yet adds its 91 bytes (counted in sigIndex)
      const size = encodedEventSize(e) + e.origin.length + e.proof.p.length + 40
      if (page.length >= MAX_ENTRIES_PER_FRAME || bytes + size + 91 > PAGE_BYTES) await flush()
      page.push(toWire(e, sigIndex))
      bytes += size
    }
  }
  await flush()
  await ch.write(encodeFrame({ t: 'end' }))
  return { sent }
}

/**
 * Client side: send our root; if the server differs, compare bucket digests and fetch the differing buckets.
 * Every received entry is validated with `policy`; valid ones go to `apply` page by page, which returns how
 * many changed the ledger. Entries we hold newer are ignored by the ledger; the server fetches them from us
 * in its own pull.
 */
export async function pullCatchup (
  ch: FrameChannel,
  state: CatchupState,
  policy: () => EntryPolicy,
  apply: (entries: SignedEntry[]) => number,
  maxEntries = Infinity
): Promise<PullResult> {
  const result: PullResult = { same: false, buckets: 0, received: 0, applied: 0, refused: {}, limited: false }
  await ch.write(encodeFrame({ t: 'hello', v: CATCHUP_VERSION, n: BUCKETS, root: state.root() }))
  const answer = await next(ch, 'same', 'digests')
  if (answer.t === 'same') return { ...result, same: true }
  const differing = diffBuckets(state.digests(), Buffer.from(answer.d, 'base64'), WIRE_BUCKETS)
  result.buckets = differing.length
  await ch.write(encodeFrame({ t: 'fetch', b: differing }))
  for (;;) {
    const frame = await next(ch, 'entries', 'end')
    if (frame.t === 'end') return result
    const rules = policy()
    const valid: SignedEntry[] = []
    // the per-pull bound: a server may offer any number of entries; what is past the bound is not even
    // verified, and the caller ends the stream. Buckets completed meanwhile match from then on, so an honest
    // backlog still arrives over the next pulls
    const room = maxEntries - result.received
    if (frame.e.length > room) {
      frame.e.length = Math.max(0, room)
      result.limited = true
    }
    for (const item of frame.e) {
      const checked = validateEntry(withSignature(item, frame.s), rules)
      if (checked.valid) valid.push(checked.value)
      else result.refused[checked.reason] = (result.refused[checked.reason] ?? 0) + 1
    }
    result.received += frame.e.length
    result.applied += apply(valid)
    if (result.limited) return result
    await ch.write(encodeFrame({ t: 'more' }))
  }
}
