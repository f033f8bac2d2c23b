import { describe, expect, it } from 'vitest'
import { type HostAddresses, isBindable, listenHost } from '../src/config/local-address.js'

/** A server with loopback and one address per family, and ip_nonlocal_bind as given. */
function host (nonlocal = false): HostAddresses {
  return {
    addresses: () => [
      { address: '127.0.0.1', internal: true },
      { address: '::1', internal: true },
      { address: '10.77.0.5', internal: false },
      { address: 'fe80::1', internal: false }
    ],
    nonlocalBind: () => nonlocal
  }
}

describe('fst check: is a listen address on this server', () => {
  it('takes the wildcards, the interfaces\' addresses and all of 127.0.0.0/8', () => {
    for (const ip of ['0.0.0.0', '::', '127.0.0.1', '127.0.0.2', '::1', '10.77.0.5', 'FE80::1', 'fe80::1%eth0']) expect(isBindable(ip, host()), ip).toBe(true)
  })

  it('refuses an address no interface has, unless ip_nonlocal_bind allows it', () => {
    for (const ip of ['192.0.2.1', '10.77.0.6', '2001:db8::1', '::2']) {
      expect(isBindable(ip, host()), ip).toBe(false)
      expect(isBindable(ip, host(true)), ip).toBe(true)
    }
  })

  it('reads the host of every listen form', () => {
    expect(listenHost('192.0.2.1:4242')).toBe('192.0.2.1')
    expect(listenHost('[2001:db8::1]:4242')).toBe('2001:db8::1')
    expect(listenHost('/ip4/192.0.2.1/tcp/4242')).toBe('192.0.2.1')
    expect(listenHost('/ip6/::1/tcp/4242')).toBe('::1')
    expect(listenHost('/dns4/fw1.example.org/tcp/4242')).toBe(null)
    expect(listenHost('localhost:9464')).toBe(null)
  })
})
