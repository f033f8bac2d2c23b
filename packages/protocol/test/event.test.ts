import { describe, expect, it } from 'vitest'
import { actionFamily, canonicalPort, MAX_DURATION_S, RejectReason, scriptView, validateEvent, validateInput, validatePort } from '../src/index.js'

const good = { action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: '203.0.113.7' }

describe('validateInput', () => {
  it('accepts the five hook fields and normalises the address', () => {
    expect(validateInput({ ...good, ip: '::ffff:203.0.113.7' })).toEqual({
      valid: true,
      value: { ...good, duration: 0 }
    })
    expect(validateInput({ ...good, action: 'nullroute', name: 'nginx-http-auth.v2', duration: 600 })).toMatchObject({ valid: true, value: { duration: 600 } })
  })

  it.each([
    ['action', 'ban;id', RejectReason.badAction],
    ['action', '../../bin', RejectReason.badAction],
    ['action', '.hidden', RejectReason.badAction],
    ['action', '', RejectReason.badAction],
    ['action', 'a'.repeat(65), RejectReason.badAction],
    ['action', 'ban\n', RejectReason.badAction],
    ['name', '$(id)', RejectReason.badName],
    ['name', 'ss hd', RejectReason.badName],
    ['name', '-sshd', RejectReason.badName],
    ['name', 42, RejectReason.badName],
    ['protocol', 'tcp\u212a', RejectReason.badProtocol],
    ['protocol', 'tcp\u0130', RejectReason.badProtocol],
    ['protocol', 'tcp;', RejectReason.badProtocol],
    ['protocol', 'tcp,', RejectReason.badProtocol],
    ['protocol', 'a,b,c,d,e,f,g,h,i', RejectReason.badProtocol],
    ['port', '99999', RejectReason.badPort],
    ['ip', '999.1.1.1', RejectReason.badAddress],
    ['duration', -1, RejectReason.badDuration],
    ['duration', 1.5, RejectReason.badDuration],
    ['duration', '60', RejectReason.badDuration],
    ['duration', MAX_DURATION_S + 1, RejectReason.badDuration]
  ])('rejects %s = %j', (field, value, reason) => {
    const result = validateInput({ ...good, [field]: value })
    expect(result.valid).toBe(false)
    expect(!result.valid && result.reason).toBe(reason)
  })

  it('names the field and bounds the echoed value in its error', () => {
    const result = validateInput({ ...good, name: `x y${'z'.repeat(500)}` })
    expect(!result.valid && result.error).toMatch(/^name must match/)
    expect(!result.valid && result.error.length).toBeLessThan(200)
  })
})

describe('case of protocol and port words', () => {
  it('accepts the seed\'s example `nullroute route IP null` and passes the words on lowercased', () => {
    const result = validateInput({ action: 'nullroute', name: 'route', protocol: 'IP', port: 'null', ip: '198.51.100.9' })
    expect(result).toEqual({ valid: true, value: { action: 'nullroute', name: 'route', protocol: 'ip', port: 'null', ip: '198.51.100.9', duration: 0 } })
    expect(validateInput({ ...good, protocol: 'TCP,Udp' })).toMatchObject({ valid: true, value: { protocol: 'tcp,udp' } })
  })
  it('a received event must carry the lowercase form (nodes agree on what scripts see)', () => {
    const event = { ...good, time: 1_700_000_000_000, duration: 0 }
    expect(validateEvent({ ...event, protocol: 'TCP' })).toMatchObject({ valid: false, reason: RejectReason.badProtocol })
    expect(validateEvent({ ...event, port: 'SSH' })).toMatchObject({ valid: false, reason: RejectReason.badPort })
  })
})

describe('validatePort', () => {
  it.each(['22', '0', '65535', 'http,https', '1000:2000', '1000-2000', '0:65535', 'ssh', 'imap3', '22,80,443', Array.from({ length: 32 }, (_, i) => String(i + 1)).join(',')])('accepts %j', port => {
    expect(validatePort(port)).toEqual({ valid: true, value: port })
  })
  it.each(['', '65536', '2000:1000', '22 80', '22;', '1:2:3', ',22', '22,', '-1', 'sſh', 'x'.repeat(257), Array.from({ length: 33 }, (_, i) => String(i + 1)).join(',')])('rejects %j', port => {
    const result = validatePort(port)
    expect(!result.valid && result.reason).toBe(RejectReason.badPort)
  })
  it('rejects values that are not strings', () => {
    expect(validatePort(22).valid).toBe(false)
  })
  it.each([['HTTP', 'http'], ['null', 'null'], ['SSH,Http', 'ssh,http']])('accepts %j in any case and lowercases it', (port, value) => {
    expect(validatePort(port)).toEqual({ valid: true, value })
  })
})

describe('validateEvent', () => {
  const event = { ...good, time: 1_700_000_000_000, duration: 0 }
  it('accepts a full event', () => {
    expect(validateEvent(event)).toEqual({ valid: true, value: event })
  })
  it('requires the address in canonical form (peers must agree on ledger keys)', () => {
    const result = validateEvent({ ...event, ip: '203.0.113.77/24' })
    expect(!result.valid && result.reason).toBe(RejectReason.badAddress)
    expect(validateEvent({ ...event, ip: '::ffff:203.0.113.7' }).valid).toBe(false)
  })
  it.each([0, -1, 1.5, '1700000000000', Number.MAX_SAFE_INTEGER + 2])('rejects time %j', time => {
    const result = validateEvent({ ...event, time })
    expect(!result.valid && result.reason).toBe(RejectReason.badTime)
  })
})

describe('actionFamily', () => {
  it('pairs unX with X', () => {
    expect(actionFamily('ban')).toEqual({ family: 'ban', removes: false })
    expect(actionFamily('unban')).toEqual({ family: 'ban', removes: true })
    expect(actionFamily('unnullroute')).toEqual({ family: 'nullroute', removes: true })
    // too short to be an undo: `un` alone is an ordinary action
    expect(actionFamily('un')).toEqual({ family: 'un', removes: false })
  })
})

describe('one canonical form of removals and ports (issue 24)', () => {
  it('a removal carries duration 0 whatever duration the report gave', () => {
    expect(validateInput({ ...good, action: 'unban', duration: 60 })).toMatchObject({ valid: true, value: { action: 'unban', duration: 0 } })
    expect(validateInput({ ...good, action: 'unnullroute', duration: 600 })).toMatchObject({ valid: true, value: { duration: 0 } })
    // the duration is still checked: a report with a broken one is refused, not repaired
    expect(validateInput({ ...good, action: 'unban', duration: -5 })).toMatchObject({ valid: false, reason: RejectReason.badDuration })
    expect(validateInput({ ...good, duration: 60 })).toMatchObject({ valid: true, value: { duration: 60 } })
  })
  it.each([['022', '22'], ['0', '0'], ['000', '0'], ['022:0443', '22:443'], ['0080-00090', '80-90'], ['http,0080', 'http,80'], ['SSH,022', 'ssh,22']])('reports port %j as %j', (port, value) => {
    expect(validateInput({ ...good, port })).toMatchObject({ valid: true, value: { port: value } })
    expect(canonicalPort(port)).toBe(value)
  })
  it('accepts from the wire what a 0.1.0 node sends (rolling upgrade): a removal with a duration, a port with leading zeros, as signed', () => {
    const event = { ...good, time: 1_700_000_000_000, duration: 0 }
    expect(validateEvent({ ...event, action: 'unban', duration: 60 })).toEqual({ valid: true, value: { ...event, action: 'unban', duration: 60 } })
    expect(validateEvent({ ...event, port: '022' })).toEqual({ valid: true, value: { ...event, port: '022' } })
  })
  it('scriptView gives scripts the canonical form of any valid event', () => {
    const event = { ...good, time: 1_700_000_000_000, duration: 60 }
    expect(scriptView({ ...event, action: 'unban', port: '022' })).toEqual({ ...event, action: 'unban', port: '22', duration: 0 })
    const canonical = { ...event, port: 'http,https' }
    expect(scriptView(canonical)).toBe(canonical)
  })
})
