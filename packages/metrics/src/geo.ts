import { closeSync, openSync, readSync, fstatSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parseAddress } from '@fst/protocol'
import maxmind, { type Reader, type Response } from 'maxmind'

/** Where an address is registered, from offline databases shipped as npm packages (no network lookups). */
export interface GeoInfo {
  /** ISO 3166 country code, e.g. `DE`; null when unknown. */
  country: string | null
  /** Autonomous system number; null when unknown. */
  asn: number | null
  /** The AS's organisation name. */
  org: string | null
}

const UNKNOWN: GeoInfo = { country: null, asn: null, org: null }
/** Lookups remembered; a flood of distinct addresses costs file reads, never memory beyond this. */
const CACHE = 20_000
const MAX_LINE = 4096

const require = createRequire(import.meta.url)

/** The packaged databases: country (CC0, geo-whois-asn-country) and ASN (CC BY 4.0, DB-IP and RouteViews). */
export function defaultDatabases (): { country: string, asn4: string, asn6: string } {
  return {
    country: require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb'),
    asn4: require.resolve('@ip-location-db/asn/asn-ipv4-num.csv'),
    asn6: require.resolve('@ip-location-db/asn/asn-ipv6-num.csv')
  }
}

/**
 * Country and ASN of banned addresses. The country database (8 MB mmdb) is read into memory by `maxmind`;
 * the ASN tables (CSV of numeric ranges, sorted, 21 + 11 MB) stay on disk and are binary-searched by byte
 * offset, ~25 small reads per lookup, so the service does not carry half a million rows in its heap.
 */
export class GeoLookup {
  private readonly cache = new Map<string, GeoInfo>()

  private constructor (private readonly country: Reader<Response> | null, private readonly asn4: RangeFile | null, private readonly asn6: RangeFile | null) {}

  static async open (paths: Partial<ReturnType<typeof defaultDatabases>> = defaultDatabases()): Promise<GeoLookup> {
    const country = paths.country === undefined ? null : await maxmind.open<Response>(paths.country, { cache: { max: 1 } })
    return new GeoLookup(country, paths.asn4 === undefined ? null : new RangeFile(paths.asn4), paths.asn6 === undefined ? null : new RangeFile(paths.asn6))
  }

  /** Country and AS of an address, or of a CIDR's network address. */
  lookup (ip: string): GeoInfo {
    const hit = this.cache.get(ip)
    if (hit !== undefined) return hit
    const parsed = parseAddress(ip)
    if (!parsed.valid) return UNKNOWN
    const address = parsed.value.address
    const text = address.toString()
    let country: string | null = null
    try {
      const cc = (this.country?.get(text) as { country_code?: unknown } | null | undefined)?.country_code
      country = typeof cc === 'string' && /^[A-Z]{2}$/.test(cc) ? cc : null
    } catch {}
    const number = address.toByteArray().reduce((n, b) => (n << 8n) | BigInt(b), 0n)
    const as = (parsed.value.kind === 'ipv4' ? this.asn4 : this.asn6)?.find(number) ?? null
    const info: GeoInfo = { country, asn: as?.asn ?? null, org: as?.org ?? null }
    if (this.cache.size >= CACHE) this.cache.delete(this.cache.keys().next().value!)
    this.cache.set(ip, info)
    return info
  }

  close (): void {
    this.asn4?.close()
    this.asn6?.close()
  }
}

/** A sorted CSV of `start,end,asn,org` rows (numbers as decimal text) searched in place. */
class RangeFile {
  private readonly fd: number
  private readonly size: number
  private readonly buf = Buffer.alloc(MAX_LINE + 1)

  constructor (path: string) {
    this.fd = openSync(path, 'r')
    this.size = fstatSync(this.fd).size
  }

  /** The first line starting at or after `pos`: its start and end offsets and text; null past the end. */
  private lineFrom (pos: number): { start: number, end: number, text: string } | null {
    let start = pos
    if (pos > 0) {
      // a line starts at pos when the byte before it is a newline
      const n = readSync(this.fd, this.buf, 0, MAX_LINE + 1, pos - 1)
      const nl = this.buf.subarray(0, n).indexOf(10)
      if (nl === -1) return null
      start = pos - 1 + nl + 1
    }
    if (start >= this.size) return null
    const n = readSync(this.fd, this.buf, 0, MAX_LINE, start)
    const chunk = this.buf.subarray(0, n)
    const nl = chunk.indexOf(10)
    const end = nl === -1 ? start + n : start + nl
    return { start, end, text: chunk.subarray(0, nl === -1 ? n : nl).toString('utf8') }
  }

  find (x: bigint): { asn: number, org: string } | null {
    let lo = 0
    let hi = this.size
    let best: string | null = null
    // each step halves [lo, hi): 64 steps cover any file
    for (let step = 0; step < 64 && lo < hi; step++) {
      const mid = Math.floor((lo + hi) / 2)
      const line = this.lineFrom(mid)
      if (line === null || line.start >= hi) { hi = mid; continue }
      const row = parseRow(line.text)
      if (row !== null && row.start <= x) {
        best = line.text
        lo = line.end + 1
      } else {
        hi = mid
      }
    }
    const row = best === null ? null : parseRow(best)
    return row !== null && x <= row.end ? { asn: row.asn, org: row.org } : null
  }

  close (): void {
    closeSync(this.fd)
  }
}

function parseRow (line: string): { start: bigint, end: bigint, asn: number, org: string } | null {
  const m = /^(\d{1,40}),(\d{1,40}),(\d{1,10}),(.*)$/.exec(line)
  if (m === null) return null
  let org = m[4]!
  if (org.startsWith('"') && org.endsWith('"')) org = org.slice(1, -1).replaceAll('""', '"')
  return { start: BigInt(m[1]!), end: BigInt(m[2]!), asn: Number(m[3]), org: org.slice(0, 120) }
}
