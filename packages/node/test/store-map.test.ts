import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ledgerKey } from '@fst/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { Ledger } from '../src/ledger/store.js'

/** The mappings of one file in this process, with their resident kB (/proc/self/smaps). */
function mappingsOf (file: string): number[] {
  const out: number[] = []
  let current = false
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head !== null) {
      current = head[1]!.trim() === file
      if (current) out.push(0)
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss !== null && current) out[out.length - 1]! += Number(rss[1])
  }
  return out
}

/**
 * Issue 25: a receiver with 100,000 bans had 95 MB of its ledger's file mapped and resident. lmdb-js starts a
 * store's map at 128 kB and maps it anew, larger, each time the file outgrows it; the old maps stay with the
 * pages reads had made resident. The stores reserve their map up front (ledger/store-options.ts), so a
 * ledger that grows while it is read stays one mapping, resident at most the size of its file.
 */
describe('the ledger file is mapped once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-store-map-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('grows to ~10 MB while it is read, in one mapping no larger in RSS than the file', async () => {
    const path = join(dir, 'ledger')
    const ledger = Ledger.open(path)
    const origin = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
    const now = Date.now()
    const keys: string[] = []
    for (let round = 0; round < 8; round++) {
      let last: Promise<unknown> | undefined
      for (let i = round * 4000; i < (round + 1) * 4000; i++) {
        const event = { action: 'ban', name: `jail-with-a-long-name-${i % 7}`, protocol: 'tcp', port: '22', ip: `198.18.${(i >> 8) & 255}.${i & 255}`, time: now - 1000, duration: 86_400 }
        last = ledger.apply(event, origin)?.written
        keys.push(ledgerKey(event))
      }
      await last
      // catch-up serving reads stored versions through the map, as the file grows
      for (const key of keys) ledger.stored(key)
    }
    const file = join(path, 'data.mdb')
    const maps = mappingsOf(file)
    const fileKb = statSync(file).size / 1024
    expect(fileKb).toBeGreaterThan(4 * 1024)
    expect(maps, `mappings of ${file} (resident kB each)`).toHaveLength(1)
    expect(maps[0]!).toBeLessThanOrEqual(fileKb + 64)
    await ledger.close()
  })
})
