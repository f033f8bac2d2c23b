import { ALWAYS_PROTECTED, type AddressRange, overlaps, parseAddress, parseRanges } from './address.js'
import { embeddedIPv4 } from './embedded.js'
import { fail, ok, RejectReason, type Result } from './errors.js'

/** Which addresses no event may name, and how wide a range may be. */
export interface AddressPolicy {
  /** Extra protected addresses/CIDRs: the configured ignore list and the peers' own addresses. */
  protect: readonly string[]
  /** Shortest prefix accepted for an IPv4 CIDR. @default 16 */
  minPrefixV4: number
  /** Shortest prefix accepted for an IPv6 CIDR. @default 32 */
  minPrefixV6: number
}

export const defaultAddressPolicy: AddressPolicy = { protect: [], minPrefixV4: 16, minPrefixV6: 32 }

/** A compiled policy: `check(ip)` answers whether a ban of this range is allowed. */
export interface AddressGuard {
  check(ip: string): Result<AddressRange>
}

export function addressGuard (policy: Partial<AddressPolicy> = {}): AddressGuard {
  const { protect, minPrefixV4, minPrefixV6 } = { ...defaultAddressPolicy, ...policy }
  const ranges = parseRanges([...ALWAYS_PROTECTED, ...protect])
  return {
    check (ip) {
      const parsed = parseAddress(ip)
      if (!parsed.valid) return parsed
      const range = parsed.value
      const min = range.kind === 'ipv4' ? minPrefixV4 : minPrefixV6
      if (range.prefix < min) {
        return fail(RejectReason.prefixTooShort, `${range.text} is wider than /${min}, the shortest prefix allowed`)
      }
      const hit = ranges.find(p => overlaps(p, range))
      if (hit !== undefined) {
        return fail(RejectReason.protectedAddress, `${range.text} overlaps protected ${hit.text}`)
      }
      // an IPv6 form that carries an IPv4 address (NAT64, 6to4, …) reaches that IPv4 host: it is held to the
      // IPv4 rules, the protected list first (a peer behind a NAT64 translator arrives as 64:ff9b::<its IPv4>)
      for (const embedded of embeddedIPv4(range)) {
        const v4 = embedded.range
        const covered = ranges.find(p => overlaps(p, v4))
        if (covered !== undefined) {
          return fail(RejectReason.protectedAddress, `${range.text} embeds ${v4.text} (${embedded.via}), which overlaps protected ${covered.text}`)
        }
        if (v4.prefix < minPrefixV4) {
          return fail(RejectReason.prefixTooShort, `${range.text} embeds ${v4.text} (${embedded.via}), wider than /${minPrefixV4}, the shortest IPv4 prefix allowed`)
        }
      }
      return ok(range)
    }
  }
}
