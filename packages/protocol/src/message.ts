import { fail, ok, RejectReason, type Result } from './errors.js'
import { type FstEvent, validateEvent } from './event.js'

/** Wire version; a receiver rejects versions it does not know. */
export const WIRE_VERSION = 2
/** Largest message a node publishes or accepts, in bytes. */
export const MAX_MESSAGE_BYTES = 256 * 1024
/** Most events one message may carry. */
export const MAX_EVENTS_PER_MESSAGE = 2000

/**
 * A batch of events signed by one origin. On the wire: UTF-8 JSON
 * `{"v":2,"s":"<base64 Ed25519 signature of the batch's Merkle root>","e":[[action,name,protocol,port,ip,time,duration],...]}`.
 * The root signature (proof.ts) is what lets the events be relayed later with proof of their origin.
 * Arrays rather than objects keep a 2,000-event batch near 150 KB.
 */
type WireEvent = [string, string, string, string, string, number, number]

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeMessage (events: readonly FstEvent[], rootSignature: string): Uint8Array {
  const e: WireEvent[] = events.map(ev => [ev.action, ev.name, ev.protocol, ev.port, ev.ip, ev.time, ev.duration])
  return encoder.encode(JSON.stringify({ v: WIRE_VERSION, s: rootSignature, e }))
}

/** A decoded message: its events and the origin's signature of their batch root (still to be verified). */
export interface DecodedMessage {
  events: FstEvent[]
  s: string
}

/** Size of one event on the wire, to let a batcher stay under MAX_MESSAGE_BYTES without encoding twice. */
export function encodedEventSize (ev: FstEvent): number {
  // 19 bytes of quotes, commas and brackets, a 13-14 digit time, a duration of up to 9 digits
  return 48 + ev.action.length + ev.name.length + ev.protocol.length + ev.port.length + ev.ip.length
}

/** Decodes and validates every event. One bad event rejects the whole message: its signer sent garbage. */
export function decodeMessage (bytes: Uint8Array): Result<DecodedMessage> {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) return fail(RejectReason.tooLarge, `message over ${MAX_MESSAGE_BYTES} bytes`)
  let body: unknown
  try {
    body = JSON.parse(decoder.decode(bytes))
  } catch {
    return fail(RejectReason.badShape, 'message is not UTF-8 JSON')
  }
  if (typeof body !== 'object' || body === null || (body as { v?: unknown }).v !== WIRE_VERSION) {
    return fail(RejectReason.badShape, `message must be an object with v=${WIRE_VERSION}`)
  }
  const sig = (body as { s?: unknown }).s
  if (typeof sig !== 'string' || sig.length !== 88) return fail(RejectReason.badShape, 'message must carry the batch root signature s')
  const list = (body as { e?: unknown }).e
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_EVENTS_PER_MESSAGE) {
    return fail(RejectReason.badShape, `message must carry 1-${MAX_EVENTS_PER_MESSAGE} events`)
  }
  const events: FstEvent[] = []
  for (const item of list) {
    if (!Array.isArray(item) || item.length !== 7) return fail(RejectReason.badShape, 'event must be a 7-element array')
    const [action, name, protocol, port, ip, time, duration] = item as unknown[]
    const checked = validateEvent({ action, name, protocol, port, ip, time, duration })
    if (!checked.valid) return checked
    events.push(checked.value)
  }
  return ok({ events, s: sig })
}
