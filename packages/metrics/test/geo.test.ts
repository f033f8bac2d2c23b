import { describe, expect, it } from 'vitest'
import { GeoLookup } from '../src/geo.js'

/** The databases shipped by the @ip-location-db packages, read offline (versions pinned by the lockfile). */
describe('GeoLookup', () => {
  it('gives country and AS of IPv4, IPv6 and CIDR bans, nothing for private or junk input', async () => {
    const geo = await GeoLookup.open()
    expect(geo.lookup('8.8.8.8')).toEqual({ country: 'US', asn: 15169, org: 'Google LLC' })
    expect(geo.lookup('2606:4700::1111')).toMatchObject({ country: 'US', asn: 13335 })
    expect(geo.lookup('1.1.1.0/24')).toMatchObject({ asn: 13335, org: 'Cloudflare, Inc.' })
    expect(geo.lookup('10.1.2.3')).toEqual({ country: null, asn: null, org: null })
    expect(geo.lookup('not an address')).toEqual({ country: null, asn: null, org: null })
    const t0 = performance.now()
    for (let i = 0; i < 1000; i++) geo.lookup(`${1 + (i % 200)}.${i % 250}.${(i * 7) % 250}.1`)
    const perLookup = (performance.now() - t0) / 1000
    console.log(`geo: ${perLookup.toFixed(3)} ms per uncached lookup (country in memory, ASN: sparse index + one read)`)
    expect(perLookup).toBeLessThan(5)
    geo.close()
  })
})
