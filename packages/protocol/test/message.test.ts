import { describe, expect, it } from 'vitest'
import {
  decodeMessage, encodedEventSize, encodeMessage, type FstEvent, MAX_DURATION_S, MAX_EVENTS_PER_MESSAGE, MAX_MESSAGE_BYTES, RejectReason
} from '../src/index.js'

const event: FstEvent = { action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.7', time: 1_700_000_000_000, duration: 600 }
const bytes = (text: string) => new TextEncoder().encode(text)
/** A root signature's shape (88 base64 characters); decodeMessage checks the shape, the node verifies it. */
const SIG = 'A'.repeat(86) + '=='

function rejection (data: Uint8Array) {
  const result = decodeMessage(data)
  if (result.valid) throw new Error('expected a rejection')
  return result.reason
}

describe('message encoding', () => {
  it('round-trips a batch', () => {
    const events = [event, { ...event, action: 'unban', ip: '2001:db8::7', duration: 0 }]
    expect(decodeMessage(encodeMessage(events, SIG))).toEqual({ valid: true, value: { events, s: SIG } })
  })

  it('uses the documented compact wire form', () => {
    expect(new TextDecoder().decode(encodeMessage([event], SIG))).toBe(`{"v":2,"s":"${SIG}","e":[["ban","sshd","tcp","22","203.0.113.7",1700000000000,600]]}`)
  })

  it('never underestimates the encoded size (the batcher relies on it)', () => {
    const big: FstEvent = { ...event, name: 'n'.repeat(64), port: '1000:2000', ip: '2001:db8:1234:5678:9abc:def0:1234:5678', duration: MAX_DURATION_S }
    const events = Array.from({ length: MAX_EVENTS_PER_MESSAGE }, () => big)
    const estimate = events.reduce((sum, e) => sum + encodedEventSize(e), 0)
    expect(estimate).toBeGreaterThanOrEqual(encodeMessage(events, SIG).byteLength - 20 - 96)
  })
})

describe('decodeMessage bounds and shape', () => {
  it('refuses a message over the size limit before parsing it', () => {
    expect(rejection(new Uint8Array(MAX_MESSAGE_BYTES + 1))).toBe(RejectReason.tooLarge)
  })

  it('refuses more events than a message may carry, and none', () => {
    const wire = JSON.stringify(['ban', 'sshd', 'tcp', '22', '203.0.113.7', 1, 0])
    expect(rejection(bytes(`{"v":2,"s":"${SIG}","e":[${Array(MAX_EVENTS_PER_MESSAGE + 1).fill(wire).join(',')}]}`))).toBe(RejectReason.badShape)
    expect(rejection(bytes(`{"v":2,"s":"${SIG}","e":[]}`))).toBe(RejectReason.badShape)
  })

  it.each([
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
    ['not JSON', bytes('ban sshd')],
    ['null', bytes('null')],
    ['an array', bytes('[1]')],
    ['version 1', bytes(`{"v":1,"s":"${SIG}","e":[["ban","sshd","tcp","22","203.0.113.7",1,0]]}`)],
    ['no root signature', bytes('{"v":2,"e":[["ban","sshd","tcp","22","203.0.113.7",1,0]]}')],
    ['no events key', bytes(`{"v":2,"s":"${SIG}"}`)],
    ['events not an array', bytes(`{"v":2,"s":"${SIG}","e":{}}`)],
    ['short event', bytes(`{"v":2,"s":"${SIG}","e":[["ban","sshd","tcp","22","203.0.113.7",1]]}`)],
    ['object event', bytes(`{"v":2,"s":"${SIG}","e":[{"action":"ban"}]}`)]
  ])('refuses %s as bad_shape', (_label, data) => {
    expect(rejection(data)).toBe(RejectReason.badShape)
  })

  it('refuses the whole batch when one event is bad, with that event\'s reason', () => {
    const good = ['ban', 'sshd', 'tcp', '22', '203.0.113.7', 1, 0]
    expect(rejection(bytes(JSON.stringify({ v: 2, s: SIG, e: [good, ['ban', 'sshd', 'tcp', '22', '203.0.113.77/24', 1, 0]] })))).toBe(RejectReason.badAddress)
    expect(rejection(bytes(JSON.stringify({ v: 2, s: SIG, e: [good, ['ban;rm', 'sshd', 'tcp', '22', '203.0.113.8', 1, 0]] })))).toBe(RejectReason.badAction)
    expect(rejection(bytes(JSON.stringify({ v: 2, s: SIG, e: [good, ['ban', 'sshd', 'tcp', '22', '203.0.113.8', 0, 0]] })))).toBe(RejectReason.badTime)
    expect(rejection(bytes(JSON.stringify({ v: 2, s: SIG, e: [good, ['ban', 'sshd', 'tcp', '22', '203.0.113.8', 1, -5]] })))).toBe(RejectReason.badDuration)
  })
})
