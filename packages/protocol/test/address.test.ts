import { describe, expect, it } from 'vitest'
import { addressGuard, embeddedIPv4, overlaps, parseAddress, RejectReason } from '../src/index.js'

function canonical (input: string): string {
  const parsed = parseAddress(input)
  if (!parsed.valid) throw new Error(`${input}: ${parsed.error}`)
  return parsed.value.text
}

describe('parseAddress', () => {
  it('returns the canonical text of addresses and CIDRs', () => {
    expect(canonical('203.0.113.7')).toBe('203.0.113.7')
    expect(canonical('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1')
    // IPv4-mapped IPv6 becomes IPv4, for single addresses and CIDRs (the prefix moves by 96 bits)
    expect(canonical('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(canonical('::ffff:c000:201')).toBe('192.0.2.1')
    expect(canonical('::ffff:192.0.2.0/120')).toBe('192.0.2.0/24')
    // host bits of a CIDR are cleared; a full-length prefix is dropped
    expect(canonical('203.0.113.77/24')).toBe('203.0.113.0/24')
    expect(canonical('198.51.100.200/25')).toBe('198.51.100.128/25')
    expect(canonical('2001:db8:aaaa:bbbb::1/48')).toBe('2001:db8:aaaa::/48')
    expect(canonical('203.0.113.7/32')).toBe('203.0.113.7')
    expect(canonical('2001:db8::1/128')).toBe('2001:db8::1')
    expect(canonical('0.0.0.0/0')).toBe('0.0.0.0/0')
  })

  it('reports kind and prefix', () => {
    const parsed = parseAddress('2001:db8::/32')
    expect(parsed.valid && { kind: parsed.value.kind, prefix: parsed.value.prefix }).toEqual({ kind: 'ipv6', prefix: 32 })
  })

  it.each([
    '', '999.1.1.1', '1.2.3', '127.1', '0x7f.0.0.1', '010.1.1.1', '1.2.3.4.5', 'not-an-ip', 'fe80::1%eth0',
    '1.2.3.4/33', '2001:db8::/129', '1.2.3.4/', '1.2.3.4/abc', '1.2.3.4/-1', '1.2.3.4/0024', '::ffff:1.2.3.4/95',
    ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n', `1.${'1'.repeat(70)}`
  ])('rejects %j', input => {
    const parsed = parseAddress(input)
    expect(parsed.valid).toBe(false)
    expect(!parsed.valid && parsed.reason).toBe(RejectReason.badAddress)
  })

  it('rejects values that are not strings', () => {
    expect(parseAddress(42 as unknown as string).valid).toBe(false)
    expect(parseAddress(undefined as unknown as string).valid).toBe(false)
  })
})

describe('overlaps', () => {
  const range = (text: string) => {
    const parsed = parseAddress(text)
    if (!parsed.valid) throw new Error(parsed.error)
    return parsed.value
  }
  it('is true when one range contains the other, in either order', () => {
    expect(overlaps(range('10.0.0.0/8'), range('10.1.2.3'))).toBe(true)
    expect(overlaps(range('10.1.2.3'), range('10.0.0.0/8'))).toBe(true)
    expect(overlaps(range('2001:db8::/32'), range('2001:db8:1::/48'))).toBe(true)
  })
  it('is false for disjoint ranges and across families', () => {
    expect(overlaps(range('10.0.0.0/8'), range('11.0.0.1'))).toBe(false)
    expect(overlaps(range('10.0.0.1'), range('10.0.0.2'))).toBe(false)
    expect(overlaps(range('0.0.0.0/0'), range('2001:db8::1'))).toBe(false)
  })
})

describe('addressGuard', () => {
  const guard = addressGuard({ protect: ['192.0.2.10', '2001:db8:1::/48'], minPrefixV4: 16, minPrefixV6: 32 })

  it('allows ordinary addresses and ranges within the minimum prefix', () => {
    expect(guard.check('203.0.113.7')).toMatchObject({ valid: true, value: { text: '203.0.113.7' } })
    expect(guard.check('198.51.0.0/16').valid).toBe(true)
    expect(guard.check('2001:db8:2::/48').valid).toBe(true)
  })

  it.each([
    ['127.0.0.1', RejectReason.protectedAddress],
    ['::ffff:127.0.0.1', RejectReason.protectedAddress],
    ['::1', RejectReason.protectedAddress],
    ['169.254.1.1', RejectReason.protectedAddress],
    ['fe80::1', RejectReason.protectedAddress],
    ['224.0.0.1', RejectReason.protectedAddress],
    ['192.0.2.10', RejectReason.protectedAddress],
    // a range containing a protected address is refused too
    ['192.0.2.0/24', RejectReason.protectedAddress],
    ['2001:db8:1:2::5', RejectReason.protectedAddress],
    ['10.0.0.0/8', RejectReason.prefixTooShort],
    ['0.0.0.0/0', RejectReason.prefixTooShort],
    ['2001:db8::/16', RejectReason.prefixTooShort],
    ['bogus', RejectReason.badAddress]
  ])('refuses %s (%s)', (ip, reason) => {
    const checked = guard.check(ip)
    expect(checked.valid).toBe(false)
    expect(!checked.valid && checked.reason).toBe(reason)
  })
})

describe('IPv6 forms that embed an IPv4 address', () => {
  const guard = addressGuard({ protect: ['192.0.2.10'], minPrefixV4: 16, minPrefixV6: 32 })
  const refused = (ip: string) => {
    const checked = guard.check(ip)
    return checked.valid ? 'allowed' : checked.reason
  }

  it('stay IPv6 on the wire (only IPv4-mapped becomes IPv4)', () => {
    expect(canonical('::ffff:203.0.113.9')).toBe('203.0.113.9')
    expect(canonical('::ffff:cb00:7109')).toBe('203.0.113.9')
    // ipaddr.js reads the dotted `::a.b.c.d` as mapped (RFC 4291 calls it IPv4-compatible): either way its IPv4 is checked
    expect(canonical('::203.0.113.9')).toBe('203.0.113.9')
    expect(canonical('::cb00:7109')).toBe('::cb00:7109')
    expect(canonical('64:ff9b::203.0.113.9')).toBe('64:ff9b::cb00:7109')
    expect(canonical('2002:cb00:7109::/48')).toBe('2002:cb00:7109::/48')
  })

  it.each([
    // IPv4-compatible ::/96, IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96
    '::7f00:1', '::127.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:0:7f00:1', '64:ff9b::7f00:1', '64:ff9b::127.0.0.1',
    // 6to4 2002::/16: the IPv4 address is bits 16-47, a /48 is that one host's site
    '2002:7f00:1::/48', '2002:7f00:1::1', '2002:7f00:1:5::/64', '2002:7f00::/32',
    // other protected IPv4 ranges, and the configured ones
    '64:ff9b::a9fe:101', '2002:e000:1::/48', '::c000:20a', '64:ff9b::192.0.2.10', '2002:c000:20a::/48',
    // CIDRs within an embedding prefix that cover a protected address
    '64:ff9b::7f00:0/120', '64:ff9b::c000:200/120', '::7f00:0/104',
    // CIDRs that cover a whole embedding prefix, loopback included
    '::fffe:0:0/95', '64:ff9b::/64', '::/80'
  ])('refuses %s as a protected address', ip => {
    expect(refused(ip)).toBe(RejectReason.protectedAddress)
  })

  it('names the embedded address and the protected range it overlaps', () => {
    const checked = guard.check('64:ff9b::7f00:1')
    expect(!checked.valid && checked.error).toMatch(/64:ff9b::7f00:1 embeds 127\.0\.0\.1 \(NAT64 64:ff9b::\/96\), which overlaps protected 127\.0\.0\.0\/8/)
  })

  it('applies the IPv4 minimum prefix to the embedded range', () => {
    // a NAT64 /100 reaches a /4 of IPv4 hosts through the translator
    expect(refused('64:ff9b::5000:0/100')).toBe(RejectReason.prefixTooShort)
    expect(refused('64:ff9b::cb00:0/112')).toBe('allowed')
  })

  it.each([
    '::cb00:7109', '::ffff:0:cb00:7109', '64:ff9b::cb00:7109', '64:ff9b::cb00:7100/120', '2002:cb00:7109::/48',
    '2002:cb00:7109:1::5', '2001:db8::7f00:1', '64:ff9c::7f00:1', '2003:7f00:1::/48'
  ])('allows %s (its embedded IPv4 is not protected, or it embeds none)', ip => {
    expect(refused(ip)).toBe('allowed')
  })

  it('embeddedIPv4 returns the IPv4 range each embedding carries', () => {
    const range = (text: string) => {
      const parsed = parseAddress(text)
      if (!parsed.valid) throw new Error(parsed.error)
      return parsed.value
    }
    const texts = (text: string) => embeddedIPv4(range(text)).map(e => [e.via, e.range.text])
    expect(texts('2002:cb00:7109::/48')).toEqual([['6to4 2002::/16', '203.0.113.9']])
    expect(texts('2002:cb00::/24')).toEqual([['6to4 2002::/16', '203.0.0.0/8']])
    expect(texts('64:ff9b::cb00:7100/120')).toEqual([['NAT64 64:ff9b::/96', '203.0.113.0/24']])
    expect(texts('::/64').map(([via, v4]) => `${via} ${v4}`)).toEqual([
      'IPv4-compatible ::/96 0.0.0.0/0', 'IPv4-mapped ::ffff:0:0/96 0.0.0.0/0', 'IPv4-translated ::ffff:0:0:0/96 0.0.0.0/0'
    ])
    expect(texts('2001:db8::1')).toEqual([])
    expect(texts('203.0.113.9')).toEqual([])
  })
})
