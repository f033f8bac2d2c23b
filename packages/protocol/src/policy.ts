import { ALWAYS_PROTECTED, type AddressRange, overlaps, parseAddress, parseRanges } from './address.js'
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
      return ok(range)
    }
  }
}
