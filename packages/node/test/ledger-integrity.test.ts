import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { open } from 'lmdb'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkStore } from '../src/ledger/integrity.js'
import { checkLmdbHeader } from '../src/ledger/lmdb-header.js'
import { openStore, type OpenStoreInit, prepareStore, type StoreName } from '../src/ledger/open-store.js'
import { Ledger } from '../src/ledger/store.js'

const ENTRIES = 3000
const T = Date.now()

/** Bytes from a fixed-seed generator: the same damage on every run (LMDB's reaction to it is deterministic). */
function noise (length: number, seed: number): Buffer {
  const out = Buffer.alloc(length)
  let x = seed >>> 0
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** What the node does at start: prepare (check, refuse or move aside), then open. */
async function startStore (store: StoreName, dir: string, init: OpenStoreInit): Promise<Ledger> {
  prepareStore(store, dir, init)
  return openStore(store, dir, d => Ledger.load(d), init)
}

/** An init for openStore that records what it counted and logged. */
function recorder (onDamage: OpenStoreInit['onDamage']) {
  const lines: Array<Record<string, unknown>> = []
  const counted: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done() } })
  const init: OpenStoreInit = { onDamage, log: pino({ level: 'info' }, stream), onDamaged: (store, reason) => counted.push(`${store}:${reason}`), now: () => new Date(T) }
  return { init, lines, counted }
}

describe('the ledger file check', () => {
  let root: string
  let sound: string
  let n = 0
  /** A copy of the sound ledger, damaged by `harm(data.mdb)`. */
  const copy = (harm: (file: string) => void = () => {}) => {
    const dir = join(root, `copy${n++}`)
    cpSync(sound, dir, { recursive: true })
    harm(join(dir, 'data.mdb'))
    return dir
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'fst-integrity-'))
    sound = join(root, 'sound')
    const ledger = Ledger.open(sound)
    const changes = Array.from({ length: ENTRIES }, (_, i) =>
      ledger.apply({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: `198.18.${i >> 8}.${i & 255}`, time: T, duration: 0 }, 'peerA', T))
    await Promise.all(changes.map(c => c?.written))
    await ledger.close()
  })
  afterAll(() => { rmSync(root, { recursive: true, force: true }) })

  it('passes a sound ledger and counts its entries', () => {
    // LMDB's own count takes in the record shapes the store keeps under a key of their own (store-options.ts)
    expect(checkLmdbHeader(join(sound, 'data.mdb'))).toMatchObject({ state: 'sound', pageSize: 4096, entries: BigInt(ENTRIES + 1) })
    expect(checkStore(sound)).toMatchObject({ state: 'sound', entries: ENTRIES })
    expect(checkStore(join(root, 'none'))).toMatchObject({ state: 'absent' })
    expect(checkStore(copy(f => writeFileSync(f, '')))).toMatchObject({ state: 'empty' })
  })

  const headerCases: Array<[string, (file: string) => void, string]> = [
    ['truncated to 4 KiB', f => truncateSync(f, 4096), 'truncated'],
    ['truncated to 100 bytes', f => truncateSync(f, 100), 'truncated'],
    ['cut inside a page', f => truncateSync(f, statSync(f).size - 100), 'truncated'],
    ['random bytes', f => writeFileSync(f, noise(statSync(f).size, 1)), 'not_lmdb'],
    ['zeroed', f => writeFileSync(f, Buffer.alloc(statSync(f).size)), 'not_lmdb'],
    ['meta page 1 overwritten', f => { const b = readFileSync(f); noise(4096, 2).copy(b, 4096); writeFileSync(f, b) }, 'not_lmdb'],
    ['another data version', f => { const b = readFileSync(f); b.writeUInt32LE(1, 28); writeFileSync(f, b) }, 'bad_version'],
    ['a root page number past the end', f => { const b = readFileSync(f); for (const m of [0, 4096]) b.writeBigUInt64LE(10n ** 9n, m + 136); writeFileSync(f, b) }, 'truncated']
  ]
  for (const [what, harm, reason] of headerCases) {
    it(`finds a file ${what} from its header alone (${reason})`, () => {
      const dir = copy(harm)
      expect(checkStore(dir, { deep: false })).toMatchObject({ state: 'damaged', reason })
      expect(checkStore(dir)).toMatchObject({ state: 'damaged', reason, file: join(dir, 'data.mdb') })
    })
  }

  it('finds damaged tree pages behind sound meta pages by reading in a child process', () => {
    const headerOnly: string[] = []
    for (const seed of [3, 4, 5, 6, 7, 8]) {
      const dir = copy(f => { const b = readFileSync(f); noise(b.length - 8192, seed).copy(b, 8192); writeFileSync(f, b) })
      headerOnly.push(checkStore(dir, { deep: false }).state)
      const result = checkStore(dir)
      expect(result.state, JSON.stringify(result)).toBe('damaged')
    }
    // for some of these the meta pages and the root page look right: only reading the pages tells
    expect(headerOnly).toContain('sound')
    // a file cut after its meta pages still has a sound header; the entry count of its meta page tells
    const half = copy(f => truncateSync(f, Math.floor(statSync(f).size / 8192) * 4096))
    expect(checkStore(half)).toMatchObject({ state: 'damaged' })
  })

  it('gives up on a read that does not end within its bound', () => {
    expect(checkStore(sound, { timeoutMs: 1 })).toMatchObject({ state: 'damaged', reason: 'check_timeout' })
  })

  it('refuse: throws LedgerDamagedError naming the file, leaves it in place, counts it', async () => {
    const dir = copy(f => truncateSync(f, 4096))
    const { init, counted } = recorder('refuse')
    const error = await startStore('ledger', dir, init).catch((err: unknown) => err as Error)
    expect(error).toMatchObject({ name: 'LedgerDamagedError' })
    expect((error as Error).message).toContain(join(dir, 'data.mdb'))
    expect(statSync(join(dir, 'data.mdb')).size).toBe(4096)
    expect(counted).toEqual(['ledger:truncated'])
  })

  it('rebuild: moves the file aside, removes its lock file, starts empty, and warns naming the file', async () => {
    const dir = copy(f => writeFileSync(f, noise(statSync(f).size, 6)))
    const { init, lines, counted } = recorder('rebuild')
    const ledger = await startStore('ledger', dir, init)
    expect(ledger.size).toBe(0)
    await ledger.close()
    const stamp = new Date(T).toISOString().replace(/[:.]/g, '-')
    expect(readdirSync(dir).sort()).toEqual(['data.mdb', `data.mdb.damaged-${stamp}`, 'lock.mdb'])
    expect(counted).toEqual(['ledger:not_lmdb'])
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 40, file: join(dir, 'data.mdb'), reason: 'not_lmdb', movedTo: join(dir, `data.mdb.damaged-${stamp}`) })
  })

  it('an entry LMDB reads but that does not decode is damage too (found while loading)', async () => {
    const dir = join(root, 'undecodable')
    const raw = open({ path: dir, encoding: 'binary', compression: false })
    await raw.put('ban|sshd|198.51.100.1', Buffer.from([0xc1, 0xc1, 0xc1]))
    await raw.close()
    expect(checkStore(dir)).toMatchObject({ state: 'sound', entries: 1 })
    const { init, counted } = recorder('rebuild')
    const ledger = await startStore('ledger', dir, init)
    expect(ledger.size).toBe(0)
    await ledger.close()
    expect(counted).toEqual(['ledger:unreadable'])
    expect(readdirSync(dir).filter(f => f.startsWith('data.mdb.damaged-'))).toHaveLength(1)
  })

  it('an empty file is a warning, and the store opens', async () => {
    const dir = copy(f => writeFileSync(f, ''))
    const { init, lines, counted } = recorder('refuse')
    const ledger = await startStore('ledger', dir, init)
    expect(ledger.size).toBe(0)
    await ledger.close()
    expect(counted).toEqual(['ledger:empty'])
    expect(lines[0]).toMatchObject({ level: 40, file: join(dir, 'data.mdb') })
    expect(existsSync(join(dir, 'data.mdb'))).toBe(true)
  })
})
