import ipaddr from 'ipaddr.js'
import { fail, ok, RejectReason, type Result } from './errors.js'

/** A parsed address range. A single address is a range with the full prefix (/32 or /128). */
export interface AddressRange {
  /** Canonical text: `203.0.113.7`, `2001:db8::1`, `198.51.100.0/24`, `2001:db8::/48`. */
  text: string
  kind: 'ipv4' | 'ipv6'
  address: ipaddr.IPv4 | ipaddr.IPv6
  prefix: number
}

const MAX_ADDRESS_LENGTH = 64

/**
 * Parses an IPv4 or IPv6 address or CIDR and returns its canonical form:
 * IPv4-mapped IPv6 becomes IPv4, host bits of a CIDR are cleared, a full-length prefix is dropped.
 * Only dotted-quad IPv4 is accepted (no `010.1`, `0x7f.1` or `127.1` shorthands).
 */
export function parseAddress (input: string): Result<AddressRange> {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_ADDRESS_LENGTH) {
    return fail(RejectReason.badAddress, 'address must be an IPv4 or IPv6 address or CIDR')
  }
  const slash = input.indexOf('/')
  const host = slash === -1 ? input : input.slice(0, slash)
  const prefixText = slash === -1 ? undefined : input.slice(slash + 1)

  const address = parseHost(host)
  if (address === null) return fail(RejectReason.badAddress, `not an IPv4 or IPv6 address: ${JSON.stringify(host)}`)

  const max = address.kind() === 'ipv4' ? 32 : 128
  let prefix = max
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) {
      return fail(RejectReason.badAddress, `bad prefix length: ${JSON.stringify(prefixText)}`)
    }
    prefix = Number(prefixText)
    // an IPv4-mapped IPv6 CIDR keeps its meaning on the IPv4 side
    if (address.kind() === 'ipv4' && ipaddr.IPv6.isValid(host)) prefix -= 96
    if (prefix < 0 || prefix > max) {
      return fail(RejectReason.badAddress, `prefix length must be 0-${max}`)
    }
  }
  const network = prefix === max ? address : networkOf(address, prefix)
  const text = prefix === max ? network.toString() : `${network.toString()}/${prefix}`
  return ok({ text, kind: address.kind(), address: network, prefix })
}

/** Four decimal octets without leading zeros; ipaddr.js then checks each is at most 255. */
const FOUR_PART_DECIMAL = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/

/**
 * One address, or null. The family is picked by the text (a colon means IPv6) so that a valid address never
 * goes through a parser that throws: ipaddr.js's isValid() builds an Error for every address of the other
 * family, which made an IPv6 address cost ~15 µs instead of ~1.
 */
function parseHost (host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    if (!host.includes(':')) return FOUR_PART_DECIMAL.test(host) ? ipaddr.IPv4.parse(host) : null
    if (host.includes('%')) return null
    const v6 = ipaddr.IPv6.parse(host)
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6
  } catch {
    return null
  }
}

function networkOf (address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes = address.toByteArray()
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    bytes[bit >> 3]! &= ~(0x80 >> (bit & 7))
  }
  return ipaddr.fromByteArray(bytes)
}

/** True when one range contains the other (for CIDRs, overlap means exactly that). */
export function overlaps (a: AddressRange, b: AddressRange): boolean {
  if (a.kind !== b.kind) return false
  const shorter = Math.min(a.prefix, b.prefix)
  return (a.address as ipaddr.IPv4).match(b.address as ipaddr.IPv4, shorter)
}

/** Ranges no ban may touch, whatever the configuration says. */
export const ALWAYS_PROTECTED: readonly string[] = [
  '0.0.0.0/8', // "this network", unspecified
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local
  '224.0.0.0/4', // multicast
  '255.255.255.255/32', // broadcast
  '::/128', // unspecified
  '::1/128', // loopback
  'fe80::/10', // link-local
  'ff00::/8' // multicast
]

/** Parses a list of protected addresses/CIDRs; throws on a bad entry (it comes from trusted config). */
export function parseRanges (entries: readonly string[]): AddressRange[] {
  return entries.map(entry => {
    const parsed = parseAddress(entry)
    if (!parsed.valid) throw new TypeError(`${entry}: ${parsed.error}`)
    return parsed.value
  })
}
