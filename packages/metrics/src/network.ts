import { parseAddress } from '@fst/protocol'
import ipaddr from 'ipaddr.js'

/** Prefix lengths used to group attackers: a /24 for IPv4, a /64 (one customer's LAN) for IPv6. */
export const NETWORK_PREFIX = { ipv4: 24, ipv6: 64 } as const

/**
 * The network an address (or CIDR) falls in, e.g. `203.0.113.7` → `203.0.113.0/24`. A CIDR wider than the
 * grouping prefix stays as it is. Returns null for text that is not an address (it came off the wire).
 */
export function networkOf (ip: string): string | null {
  const parsed = parseAddress(ip)
  if (!parsed.valid) return null
  const range = parsed.value
  const prefix = Math.min(range.prefix, NETWORK_PREFIX[range.kind])
  const bytes = range.address.toByteArray()
  for (let bit = prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7))
  return `${ipaddr.fromByteArray(bytes).toString()}/${prefix}`
}
