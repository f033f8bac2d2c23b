import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'

/** What decides whether this server can bind an address: its interfaces, and Linux's ip_nonlocal_bind. */
export interface HostAddresses {
  /** Addresses of this server's interfaces, as os.networkInterfaces() lists them. */
  addresses: () => Array<{ address: string, internal: boolean }>
  /** True when the kernel lets a program bind addresses it does not have (net.ipv4/ipv6.ip_nonlocal_bind = 1). */
  nonlocalBind: (family: 4 | 6) => boolean
}

/** This server, read when asked: a check run in a network namespace sees that namespace's interfaces. */
export const thisHost: HostAddresses = {
  addresses: () => Object.values(networkInterfaces()).flatMap(list => list ?? []),
  nonlocalBind: family => {
    try {
      return readFileSync(`/proc/sys/net/ipv${family}/ip_nonlocal_bind`, 'utf8').trim() === '1'
    } catch {
      return false
    }
  }
}

/**
 * The host part of a `listen` entry (`IP:port`, `[IPv6]:port`, `/ip4/IP/tcp/PORT`), or null when the entry
 * names none (a multiaddr of another kind).
 */
export function listenHost (item: string): string | null {
  const m = item.startsWith('/')
    ? /^\/ip[46]\/([^/]+)\//.exec(item)
    : /^(?:\[([^\]]+)\]|([^:[\]]+)):\d{1,5}$/.exec(item)
  const host = m?.[1] ?? m?.[2]
  return host === undefined || isIP(host.split('%')[0]!) === 0 ? null : host
}

/**
 * True when a program on this server can listen on `host`: the wildcard, an address of one of its
 * interfaces, anywhere in 127.0.0.0/8 when the loopback interface is up (Linux routes the whole /8 to it),
 * or any address at all with ip_nonlocal_bind. What `fst start` would otherwise meet as EADDRNOTAVAIL.
 */
export function isBindable (host: string, on: HostAddresses = thisHost): boolean {
  const ip = host.split('%')[0]!.toLowerCase()
  const family = isIP(ip) as 4 | 6
  if (ip === '0.0.0.0' || ip === '::') return true
  if (on.nonlocalBind(family)) return true
  const have = on.addresses()
  if (family === 4 && ip.startsWith('127.') && have.some(a => a.internal && a.address.startsWith('127.'))) return true
  return have.some(a => a.address.toLowerCase() === ip)
}
