/**
 * Does the ledger's LMDB file grow while its entries stay the same? (issue 24: the soak's witness file went
 * from 6.5 to 8.0 MB in an hour with ~12,100 entries throughout.) `tsx test/bench/lmdb-churn.ts [minutes]
 * [burst]` replays the soak's write pattern on a store opened with the ledger's options, in virtual time: 50
 * bans a second from 5 origins (records the size of a ledger record with its proof), each ended after 30-120 s
 * (a fifth unbanned after 5-25 s) by a removal, the oldest removals past 2,000 per origin deleted, one commit
 * per 20 ms. With `burst` N, every minute one transaction also rewrites N random entries (a catch-up page, or
 * the writes queued behind a stalled disk). Prints the file size and entries every 6 virtual minutes.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'lmdb'
import { LEDGER_MAP_BYTES, storeOptions } from '../../packages/node/src/ledger/store-options.js'

const minutes = Number(process.argv[2] ?? 60)
const burst = Number(process.argv[3] ?? 0)
const ORIGINS = 5
const TICK_MS = 20
const REMOVALS_PER_ORIGIN = 2000

const dir = mkdtempSync(join(tmpdir(), 'fst-churn-'))
const db = open<Record<string, unknown>, string>({ path: dir, ...storeOptions(LEDGER_MAP_BYTES, true) })
const keyOf = (n: number) => `ban|sshd|tcp|22|2001:2:0:e::${n.toString(16)}`
const record = (n: number, origin: number, time: number, duration: number, action: string) => ({
  action, name: 'sshd', protocol: 'tcp', port: '22', ip: `2001:2:0:e::${n.toString(16)}`, time, duration,
  origin: `12D3KooWorigin${origin}`.padEnd(52, 'x'),
  proof: { v: 2, b: time, i: n % 64, s: randomBytes(64), p: randomBytes(32 * 6) }
})

try {
  /** Ends to come, by virtual time (a few thousand at most: bans last ≤ 120 s). */
  const ends: Array<{ at: number, n: number, origin: number }> = []
  const removals = Array.from({ length: ORIGINS }, () => [] as number[])
  let n = 0
  process.stdout.write(`| virtual minute | data.mdb MB | entries |\n|---|---|---|\n`)
  for (let t = TICK_MS; t <= minutes * 60_000; t += TICK_MS) {
    const origin = n % ORIGINS
    const duration = 30 + Math.floor(Math.random() * 91)
    void db.put(keyOf(n), record(n, origin, t, duration, 'ban'))
    ends.push({ at: Math.random() < 0.2 ? t + 5000 + Math.random() * 20_000 : t + duration * 1000, n, origin })
    ends.sort((a, b) => a.at - b.at)
    n++
    while (ends.length > 0 && ends[0]!.at <= t) {
      const end = ends.shift()!
      void db.put(keyOf(end.n), record(end.n, end.origin, end.at, 0, 'unban'))
      const list = removals[end.origin]!
      list.push(end.n)
      while (list.length > REMOVALS_PER_ORIGIN) void db.remove(keyOf(list.shift()!))
    }
    if (burst > 0 && t % 60_000 === 0) {
      for (let i = 0; i < burst; i++) {
        const key = keyOf(Math.floor(Math.random() * n))
        const value = db.get(key)
        if (value !== undefined) void db.put(key, value)
      }
    }
    await db.flushed
    if (t % 360_000 === 0) process.stdout.write(`| ${t / 60_000} | ${(statSync(join(dir, 'data.mdb')).size / 1e6).toFixed(2)} | ${(db.getStats() as { entryCount: number }).entryCount} |\n`)
  }
} finally {
  await db.close()
  rmSync(dir, { recursive: true, force: true })
}
