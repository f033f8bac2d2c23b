import { encodedEventSize, type EntryProof, type FstEvent, MAX_MESSAGE_BYTES } from '@fst/protocol'

export interface BatcherInit {
  /** Longest an event waits for company before its message is signed. */
  maxDelayMs: number
  maxEvents: number
  /** Signs one batch (its Merkle root, protocol v2): the root signature and each event's proof. */
  sign: (events: FstEvent[]) => { s: string, proofs: EntryProof[] }
  /** Publishes one signed batch; errors are the caller's to log (the ledger already holds the events). */
  publish: (events: FstEvent[], s: string) => Promise<void>
}

/** Leaves headroom under MAX_MESSAGE_BYTES for the JSON envelope. */
const MAX_BATCH_BYTES = MAX_MESSAGE_BYTES - 1024

/**
 * Coalesces events published within a few milliseconds into one signed message: gossipsub pays a signature
 * check per message on every node, so at attack-wave rates many events per message is what keeps up.
 * Leading edge: an event that finds the batcher quiet (nothing sent in the last `maxDelayMs`) is sent at
 * once, so a lone ban pays no delay; the events that follow it within `maxDelayMs` share the next message.
 */
export class Batcher {
  private pending: FstEvent[] = []
  /** Who waits for each pending event's proof (the ledger writes it with the entry). */
  private waiting: Array<(proof: EntryProof) => void> = []
  private bytes = 0
  /** Runs while a window is open: from a send until `maxDelayMs` later; events arriving meanwhile wait for it. */
  private timer: NodeJS.Timeout | null = null
  private inFlight = new Set<Promise<void>>()

  constructor (private readonly init: BatcherInit) {}

  /** Queues an event; resolves with its proof once its batch is signed (within `maxDelayMs`). */
  add (event: FstEvent): Promise<EntryProof> {
    const size = encodedEventSize(event)
    if (this.bytes + size > MAX_BATCH_BYTES) this.send()
    const proof = new Promise<EntryProof>(resolve => this.waiting.push(resolve))
    this.pending.push(event)
    this.bytes += size
    if (this.timer === null || this.pending.length >= this.init.maxEvents) this.send()
    return proof
  }

  /** Sends what is pending now and opens a window for what follows. */
  private send (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    if (this.pending.length === 0) return
    const batch = this.pending
    const waiting = this.waiting
    this.pending = []
    this.waiting = []
    this.bytes = 0
    // signing is synchronous (~40 µs plus ~2 hashes per event): proofs resolve in batch order, so the ledger
    // writes two versions of one key in the order they were decided
    const signed = this.init.sign(batch)
    for (let i = 0; i < waiting.length; i++) waiting[i]!(signed.proofs[i]!)
    const done = this.init.publish(batch, signed.s).finally(() => this.inFlight.delete(done))
    this.inFlight.add(done)
    if (this.init.maxDelayMs > 0) this.timer = setTimeout(() => this.windowClosed(), this.init.maxDelayMs)
  }

  /** The window ends: send what gathered (opening the next window), or go quiet. */
  private windowClosed (): void {
    this.timer = null
    if (this.pending.length > 0) this.send()
  }

  /** Publishes what is pending and waits for every publish under way. */
  async drain (): Promise<void> {
    this.send()
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await Promise.allSettled([...this.inFlight])
  }
}
