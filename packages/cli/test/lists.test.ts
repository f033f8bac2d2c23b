import { describe, expect, it } from 'vitest'
import { nftSets } from '../src/commands/export.js'
import { parseAddressList } from '../src/commands/import.js'
import { formatDuration, parseDuration } from '../src/duration.js'

describe('parseAddressList', () => {
  it('reads one address or CIDR a line, # and ; comments, blank lines; canonical and deduplicated', () => {
    const text = '# Spamhaus DROP\n198.51.100.77/24 ; SBL1\n\n  203.0.113.9  \n203.0.113.9 # again\n::ffff:192.0.2.5\r\n2001:DB8::/32\n'
    expect(parseAddressList(text, 'drop.txt')).toEqual({ addresses: ['198.51.100.0/24', '203.0.113.9', '192.0.2.5', '2001:db8::/32'], bad: [] })
  })
  it('names each bad line by file and number', () => {
    expect(parseAddressList('203.0.113.1\nexample.org\n1.2.3.4/40\n', 'l.txt').bad).toEqual([
      'l.txt:2: not an IPv4 or IPv6 address: "example.org"',
      'l.txt:3: prefix length must be 0-32'
    ])
  })
})

describe('nftSets', () => {
  const now = 1_700_000_000_000
  it('one set per family, each element with its remaining time, none for a permanent ban', () => {
    const text = nftSets([
      { ip: '203.0.113.9', v6: false, cidr: false, end: now + 90_500 },
      { ip: '198.51.100.0/24', v6: false, cidr: true, end: Infinity },
      { ip: '2001:db8::1', v6: true, cidr: false, end: now + 1000 }
    ], now, 'drop')
    expect(text).toContain('set drop4 {\n\ttype ipv4_addr\n\tflags interval, timeout\n\tauto-merge\n\telements = { 203.0.113.9 timeout 91s,')
    expect(text).toMatch(/198\.51\.100\.0\/24 }\n}/)
    expect(text).toContain('set drop6 {\n\ttype ipv6_addr')
    expect(text).toContain('elements = { 2001:db8::1 timeout 1s }')
  })
  it('leaves out the elements line of an empty set (nft refuses "elements = { }")', () => {
    expect(nftSets([], now)).not.toContain('elements')
  })
})

describe('parseDuration', () => {
  it.each([['600', 600], ['90m', 5400], ['12h', 43_200], ['7d', 604_800], ['2w', 1_209_600], ['permanent', 0], ['-1', 0], ['0', 0]])('%s → %i s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds)
  })
  it.each(['soon', '1.5h', '-5', '10y', '', '99999999999'])('refuses %j with a UsageError', text => {
    expect(() => parseDuration(text)).toThrow(expect.objectContaining({ name: 'UsageError', exitCode: 2 }))
  })
  it('formats back in the largest whole unit', () => {
    expect([600, 7200, 86_400, 45, 0].map(formatDuration)).toEqual(['10m', '2h', '1d', '45s', 'permanent'])
  })
})
