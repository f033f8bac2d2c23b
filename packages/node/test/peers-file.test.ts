import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { PeersFileError } from '../src/errors.js'
import { listenAddr, parseEntry, parsePeersFile, tcpAddr } from '../src/trust/peers-file.js'

let id: string

beforeAll(async () => {
  id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
})

describe('parseEntry', () => {
  it('reads every entry form', () => {
    expect(parseEntry('fw1.example.org', 4242)).toEqual({ text: 'fw1.example.org', host: 'fw1.example.org', port: 4242 })
    expect(parseEntry('fw1.example.org:5000', 4242)).toMatchObject({ host: 'fw1.example.org', port: 5000 })
    expect(parseEntry('192.0.2.1', 4242)).toMatchObject({ host: '192.0.2.1', port: 4242 })
    expect(parseEntry('192.0.2.1:5000', 4242)).toMatchObject({ host: '192.0.2.1', port: 5000 })
    expect(parseEntry('[2001:db8::1]:5000', 4242)).toMatchObject({ host: '2001:db8::1', port: 5000 })
    expect(parseEntry('[2001:db8::1]', 4242)).toMatchObject({ host: '2001:db8::1', port: 4242 })
    expect(parseEntry('2001:db8::1', 4242)).toMatchObject({ host: '2001:db8::1', port: 4242 })
    expect(parseEntry('/ip4/192.0.2.1/tcp/5000', 4242)).toEqual({ text: '/ip4/192.0.2.1/tcp/5000', host: '192.0.2.1', port: 5000 })
    expect(parseEntry('/ip6/2001:db8::1/tcp/5000', 4242)).toMatchObject({ host: '2001:db8::1', port: 5000 })
    expect(parseEntry('/dns4/fw1.example.org/tcp/5000', 4242)).toMatchObject({ host: 'fw1.example.org', port: 5000 })
  })

  it('pins the peer ID of `ID@host:port` and multiaddrs ending in /p2p/ID', () => {
    expect(parseEntry(`${id}@192.0.2.1:5000`, 4242)).toEqual({ text: `${id}@192.0.2.1:5000`, host: '192.0.2.1', port: 5000, peerId: id })
    expect(parseEntry(`${id}@fw1.example.org`, 4242)).toMatchObject({ host: 'fw1.example.org', port: 4242, peerId: id })
    expect(parseEntry(`${id}@[2001:db8::1]:5000`, 4242)).toMatchObject({ host: '2001:db8::1', port: 5000, peerId: id })
    expect(parseEntry(`/ip4/192.0.2.1/tcp/5000/p2p/${id}`, 4242)).toMatchObject({ host: '192.0.2.1', port: 5000, peerId: id })
  })

  it.each([
    ['fw1.example.org:0', /port must be 1-65535/],
    ['fw1.example.org:65536', /port must be 1-65535/],
    ['fw1.example.org:ssh', /port must be 1-65535/],
    ['fw_1.example.org', /not a hostname or IP address/],
    ['-fw1.example.org', /not a hostname or IP address/],
    ['[192.0.2.1]:5000', /brackets must hold an IPv6 address/],
    ['notanid@192.0.2.1', /not a peer ID/],
    ['/ip4/192.0.2.1', /needs an address and \/tcp/],
    ['/ip4/192.0.2.1/udp/5000', /unsupported multiaddr part/],
    ['/ip4/192.0.2.1/tcp/5000/ws', /unsupported multiaddr part/],
    ['/ip4/999.0.2.1/tcp/5000', /not a multiaddr/],
    ['/ip4/192.0.2.1/tcp/5000/p2p/QmNotAnId', /not (a multiaddr|a peer ID)/]
  ])('refuses %j', (entry, message) => {
    expect(() => parseEntry(entry, 4242)).toThrow(message)
  })
})

describe('parsePeersFile', () => {
  it('splits on whitespace and newlines and ignores comments and blank lines', () => {
    const text = [
      '# the mesh',
      '',
      '192.0.2.1 192.0.2.2:5000\t[2001:db8::3]:5000   # three in one line',
      `   ${id}@fw4.example.org  `,
      '#192.0.2.9',
      `/ip4/192.0.2.5/tcp/4242/p2p/${id}\r`,
      'fw6.example.org # trailing comment'
    ].join('\n')
    expect(parsePeersFile(text, 4242).map(e => [e.host, e.port, e.peerId ?? null])).toEqual([
      ['192.0.2.1', 4242, null],
      ['192.0.2.2', 5000, null],
      ['2001:db8::3', 5000, null],
      ['fw4.example.org', 4242, id],
      ['192.0.2.5', 4242, id],
      ['fw6.example.org', 4242, null]
    ])
  })

  it('yields nothing for an empty or comment-only file', () => {
    expect(parsePeersFile('', 4242)).toEqual([])
    expect(parsePeersFile('# nobody yet\n\n', 4242)).toEqual([])
  })

  it('names the line and the entry of an error', () => {
    const text = '192.0.2.1\n# fine\n192.0.2.2 bad_host:1\n'
    let error: unknown
    try {
      parsePeersFile(text, 4242)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(PeersFileError)
    expect((error as Error).name).toBe('PeersFileError')
    expect((error as Error).message).toMatch(/^line 3: "bad_host:1": not a hostname or IP address/)
  })
})

describe('a bound on the peers file', () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `10.77.${i >> 8}.${i & 255}`).join('\n')

  it('parses up to peersFileMaxEntries entries', () => {
    expect(parsePeersFile(lines(10), 4242, 10)).toHaveLength(10)
  })

  it('refuses one more with an error naming the line, the count and the key', () => {
    let error: unknown
    try {
      parsePeersFile(`# a comment\n${lines(11)}`, 4242, 10)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(PeersFileError)
    expect((error as Error).message).toBe('line 12: more than 10 entries (peersFileMaxEntries)')
  })
})

describe('the shipped sync-peers.txt.dist', () => {
  it('parses: its documentation is all comments, its example entries are valid', () => {
    const text = readFileSync(join(import.meta.dirname, '../../../sync-peers.txt.dist'), 'utf8')
    expect(parsePeersFile(text, 4242).map(e => e.text)).toEqual(['fw1.example.org', 'fw2.example.org:4242', '[2001:db8::3]:4242'])
  })
})

describe('listenAddr and tcpAddr', () => {
  it('turns listen items into multiaddrs', () => {
    expect(listenAddr('0.0.0.0:4242')).toBe('/ip4/0.0.0.0/tcp/4242')
    expect(listenAddr('[::]:4242')).toBe('/ip6/::/tcp/4242')
    expect(listenAddr('127.0.0.1:0')).toBe('/ip4/127.0.0.1/tcp/0')
    expect(listenAddr('/ip4/127.0.0.1/tcp/5000')).toBe('/ip4/127.0.0.1/tcp/5000')
    expect(tcpAddr('2001:db8::1', 1)).toBe('/ip6/2001:db8::1/tcp/1')
  })
  it.each(['4242', 'localhost:4242', '0.0.0.0:99999', '[::]', '::1:4242'])('refuses %j', item => {
    expect(() => listenAddr(item)).toThrow(/listen entries are IP:port/)
  })
})
