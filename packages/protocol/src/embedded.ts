import ipaddr from 'ipaddr.js'
import { type AddressRange, overlaps, parseAddress } from './address.js'

/** An IPv6 prefix whose addresses carry an IPv4 address at a fixed, byte-aligned bit offset. */
interface Embedding {
  /** For messages: the name and the prefix. */
  via: string
  prefix: AddressRange
  /** Bit offset of the IPv4 address in the IPv6 address. */
  offset: number
}

/** Built with ipaddr.js directly: parseAddress would turn the IPv4-mapped prefix into 0.0.0.0/0. */
function embedding (name: string, cidr: string, offset: number): Embedding {
  const [address, prefix] = ipaddr.IPv6.parseCIDR(cidr)
  return { via: `${name} ${cidr}`, prefix: { text: cidr, kind: 'ipv6', address, prefix }, offset }
}

/**
 * The IPv6 forms through which an IPv4 host can be named or reached. IPv4-mapped addresses are turned into
 * IPv4 by parseAddress already; the prefix is here for wider IPv6 CIDRs that cover all of it. Not covered:
 * Teredo (2001::/32 carries the client's IPv4 obfuscated and its server's, both outside the operator's hands)
 * and NAT64 network-specific prefixes (64:ff9b:1::/48 and others, where the IPv4 position depends on a
 * prefix length chosen by each network): list those in `ignore` if the fleet uses one.
 */
const EMBEDDINGS: readonly Embedding[] = [
  embedding('IPv4-compatible', '::/96', 96), // RFC 4291 §2.5.5.1, deprecated but still parsed
  embedding('IPv4-mapped', '::ffff:0:0/96', 96), // RFC 4291 §2.5.5.2
  embedding('IPv4-translated', '::ffff:0:0:0/96', 96), // RFC 6145 (SIIT)
  embedding('NAT64', '64:ff9b::/96', 96), // RFC 6052 well-known prefix
  embedding('6to4', '2002::/16', 16) // RFC 3056: bits 16-47, a /48 is one IPv4 host's site
]

/** An IPv4 range an IPv6 range reaches through one embedding. */
export interface EmbeddedIPv4 {
  via: string
  range: AddressRange
}

/**
 * The IPv4 ranges an IPv6 address or CIDR embeds, one per embedding prefix it touches: the IPv4 bits it
 * fixes, or 0.0.0.0/0 for a CIDR as wide as the embedding prefix or wider (it covers every IPv4 address
 * embedded there). An IPv4 range, or an IPv6 range outside every embedding prefix, embeds nothing.
 */
export function embeddedIPv4 (range: AddressRange): EmbeddedIPv4[] {
  if (range.kind !== 'ipv6') return []
  const out: EmbeddedIPv4[] = []
  for (const e of EMBEDDINGS) {
    if (!overlaps(e.prefix, range)) continue
    const bits = Math.min(32, Math.max(0, range.prefix - e.offset))
    const bytes = range.address.toByteArray().slice(e.offset / 8, e.offset / 8 + 4)
    const v4 = parseAddress(`${ipaddr.fromByteArray(bytes).toString()}/${bits}`)
    if (v4.valid) out.push({ via: e.via, range: v4.value })
  }
  return out
}
