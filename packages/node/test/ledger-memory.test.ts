import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, describe, expect, it } from 'vitest'
import { Ledger } from '../src/ledger/store.js'

const BANS = 100_000
/**
 * Heap per active ban that the ledger may keep (entry, key, digest hash, expiry, map slots). Measured ~355
 * bytes with compact entries; records as LMDB decodes them took ~780, which put a node with 100,000 bans
 * over issue 7's 200 MB.
 */
const MAX_BYTES_PER_BAN = 500

/** A full, synchronous garbage collection, without starting the test runner with --expose-gc. */
function collect (): void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
}

describe('ledger memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-ledger-memory-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('holds 100,000 active bans read back from LMDB in under 500 bytes of heap each', async () => {
    const path = join(dir, 'ledger')
    const writer = Ledger.open(path)
    const now = Date.now()
    const origin = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
    let last: Promise<unknown> | undefined
    for (let i = 0; i < BANS; i++) {
      const ip = `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`
      last = writer.apply({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip, time: now - 1000, duration: 86_400 }, origin)?.written
    }
    await last
    await writer.close()

    collect()
    const before = process.memoryUsage().heapUsed
    // the restart path: every record decoded from the store
    const ledger = Ledger.open(path)
    collect()
    const perBan = (process.memoryUsage().heapUsed - before) / BANS
    expect(ledger.active().length).toBe(BANS)
    expect(perBan, `${perBan.toFixed(0)} bytes per ban`).toBeLessThan(MAX_BYTES_PER_BAN)
    await ledger.close()
  })
})
