import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { PeersFileError } from '../errors.js'

/** One server named in sync-peers.txt. */
export interface PeerEntry {
  /** The entry as written, for messages. */
  text: string
  /** Hostname or IP address (IPv6 without brackets). */
  host: string
  port: number
  /** The peer ID the entry pins, if it names one. */
  peerId?: string
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?$/

/**
 * Parses sync-peers.txt. Entries are separated by whitespace; `#` starts a comment. Forms:
 * `host`, `host:port`, `[v6]:port`, a bare IPv6 address, a multiaddr (`/ip4/…/tcp/…[/p2p/ID]`,
 * `/dns/…/tcp/…`), and `ID@host[:port]` to pin the peer's ID. More than `maxEntries` entries is an error
 * (config `peersFileMaxEntries`): a file of a million lines would otherwise become a million members, each
 * resolved and probed.
 */
export function parsePeersFile (text: string, defaultPort: number, maxEntries = Number.POSITIVE_INFINITY): PeerEntry[] {
  const entries: PeerEntry[] = []
  const lines = text.split(/\r?\n/)
  lines.forEach((line, index) => {
    const content = line.replace(/#.*/, '')
    for (const word of content.split(/\s+/).filter(Boolean)) {
      if (entries.length >= maxEntries) throw new PeersFileError(`line ${index + 1}: more than ${maxEntries} entries (peersFileMaxEntries)`)
      try {
        entries.push(parseEntry(word, defaultPort))
      } catch (err) {
        throw new PeersFileError(`line ${index + 1}: ${JSON.stringify(word)}: ${(err as Error).message}`)
      }
    }
  })
  return entries
}

export function parseEntry (word: string, defaultPort: number): PeerEntry {
  if (word.startsWith('/')) return parseMultiaddrEntry(word)
  let rest = word
  let peerId: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    peerId = checkPeerId(rest.slice(0, at))
    rest = rest.slice(at + 1)
  }
  let host: string
  let portText: string | undefined
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest)
  if (bracket !== null) {
    host = bracket[1]!
    portText = bracket[2]
    if (isIP(host) !== 6) throw new Error('brackets must hold an IPv6 address')
  } else if (isIP(rest) === 6) {
    host = rest
  } else {
    const colon = rest.lastIndexOf(':')
    host = colon === -1 ? rest : rest.slice(0, colon)
    portText = colon === -1 ? undefined : rest.slice(colon + 1)
    if (isIP(host) !== 4 && !HOSTNAME.test(host)) throw new Error('not a hostname or IP address')
  }
  const port = portText === undefined ? defaultPort : checkPort(portText)
  return { text: word, host, port, ...(peerId === undefined ? {} : { peerId }) }
}

function parseMultiaddrEntry (word: string): PeerEntry {
  let ma: ReturnType<typeof multiaddr>
  try {
    ma = multiaddr(word)
  } catch (err) {
    throw new Error(`not a multiaddr: ${(err as Error).message}`)
  }
  let host: string | undefined
  let port: number | undefined
  let peerId: string | undefined
  for (const c of ma.getComponents()) {
    if (['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(c.name)) host = c.value
    else if (c.name === 'tcp') port = checkPort(c.value ?? '')
    else if (c.name === 'p2p') peerId = checkPeerId(c.value ?? '')
    else throw new Error(`unsupported multiaddr part /${c.name}`)
  }
  if (host === undefined || port === undefined) throw new Error('multiaddr needs an address and /tcp/<port>')
  return { text: word, host, port, ...(peerId === undefined ? {} : { peerId }) }
}

function checkPort (text: string): number {
  const port = Number(text)
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535) throw new Error('port must be 1-65535')
  return port
}

function checkPeerId (text: string): string {
  try {
    return peerIdFromString(text).toString()
  } catch {
    throw new Error(`not a peer ID: ${JSON.stringify(text)}`)
  }
}

/** Resolves an entry's host to IP addresses (an IP resolves to itself). */
export async function resolveEntry (entry: PeerEntry): Promise<string[]> {
  if (isIP(entry.host) !== 0) return [entry.host]
  const found = await lookup(entry.host, { all: true })
  return [...new Set(found.map(a => a.address))]
}

/** A TCP multiaddr for an IP address and port. */
export function tcpAddr (ip: string, port: number): string {
  return `/${isIP(ip) === 6 ? 'ip6' : 'ip4'}/${ip}/tcp/${port}`
}

/** Turns a `listen` item (`host:port`, `[v6]:port` or multiaddr) into a multiaddr string. Port 0 picks a free port. */
export function listenAddr (item: string): string {
  if (item.startsWith('/')) return item
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(item)
  const host = m?.[1] ?? m?.[2]
  if (m === null || host === undefined || isIP(host) === 0 || Number(m[3]) > 65535) {
    throw new Error(`${JSON.stringify(item)}: listen entries are IP:port, [IPv6]:port or a multiaddr`)
  }
  return tcpAddr(host, Number(m[3]))
}
