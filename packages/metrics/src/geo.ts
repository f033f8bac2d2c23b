import { closeSync, openSync, readSync, fstatSync } from 'node:fs'
import { createRequire } from 'node:module'
import { parseAddress } from '@fst/protocol'
import maxmind, { type Reader, type Response } from 'maxmind'
import { GEOIP_FILES } from './geo-files.js'

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
    country: require.resolve(GEOIP_FILES.country),
    asn4: require.resolve(GEOIP_FILES.asn4),
    asn6: require.resolve(GEOIP_FILES.asn6)
  }
}

/**
 * Country and ASN of banned addresses. The country database (8 MB mmdb) is read into memory by `maxmind`;
 * the ASN tables (CSV of numeric ranges, sorted, 21 + 11 MB) stay on disk behind a sparse index, one small
 * read per lookup, so the service does not carry half a million rows in its heap.
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

/** Lines between two entries of the in-memory index. */
const STRIDE = 64
const CHUNK = 1 << 20

/**
 * A sorted CSV of `start,end,asn,org` rows (numbers as decimal text), searched in place: one pass on open
 * keeps the start of every 64th row and its byte offset (~6,400 entries for IPv4); a lookup binary-searches
 * that index, then reads and scans the one block of at most 64 rows (~5 KB) that can hold the address.
 */
class RangeFile {
  private readonly fd: number
  private readonly size: number
  private readonly starts: bigint[] = []
  private readonly offsets: number[] = []

  constructor (path: string) {
    this.fd = openSync(path, 'r')
    this.size = fstatSync(this.fd).size
    this.index()
  }

  private index (): void {
    const buf = Buffer.alloc(CHUNK + MAX_LINE)
    let pos = 0
    let line = 0
    let carry = 0
    while (pos < this.size) {
      const n = readSync(this.fd, buf, carry, CHUNK, pos)
      if (n === 0) break
      const len = carry + n
      let at = 0
      let nl = buf.indexOf(10, at)
      while (nl !== -1 && nl < len) {
        if (line % STRIDE === 0) {
          const row = parseRow(buf.subarray(at, nl).toString('utf8'))
          if (row !== null) { this.starts.push(row.start); this.offsets.push(pos - carry + at) }
        }
        line++
        at = nl + 1
        nl = buf.indexOf(10, at)
      }
      // the rest of a line cut by the chunk goes in front of the next one (rows are short: bounded)
      carry = Math.min(len - at, MAX_LINE)
      buf.copy(buf, 0, at, at + carry)
      pos += n
    }
  }

  find (x: bigint): { asn: number, org: string } | null {
    let lo = 0
    let hi = this.starts.length - 1
    if (hi < 0 || x < this.starts[0]!) return null
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.starts[mid]! <= x) lo = mid
      else hi = mid - 1
    }
    const from = this.offsets[lo]!
    const to = lo + 1 < this.offsets.length ? this.offsets[lo + 1]! : this.size
    const block = Buffer.alloc(Math.min(to - from, STRIDE * MAX_LINE))
    const n = readSync(this.fd, block, 0, block.length, from)
    let best: ReturnType<typeof parseRow> = null
    for (const text of block.subarray(0, n).toString('utf8').split('\n')) {
      const row = parseRow(text)
      if (row === null || row.start > x) break
      best = row
    }
    return best !== null && x <= best.end ? { asn: best.asn, org: best.org } : null
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
