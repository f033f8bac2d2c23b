/**
 * Does a node keep memory for work it has finished? The soak's witness grows while its ledger stays the same
 * size. Two suspects, one mode each, on a 2-node loopback mesh whose node 0 (the witness) is heap-snapshotted
 * after a warm-up and at the end; prints its VmRSS (read before each snapshot: taking one grows RSS) and the
 * constructors whose live object count grew the most, per unit of work. Markdown, for docs/benchmarks.md.
 *
 * - `tsx test/bench/leak-hunt.ts restarts [n]` (default 200): node 1 is killed (SIGKILL) and restarted n
 *   times, each time until the two are connected again.
 * - `tsx test/bench/leak-hunt.ts bans [n]` (default 15,000): node 1 publishes n bans at 50/s, each lasting
 *   20 s, a fifth of them unbanned 5 s later, with the soak's removal bound (2,000 per origin), so the
 *   ledger stays the same size and anything that grows with n is kept for finished work.
 */
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { ControlClient } from '@fst/cli'
import { Mesh } from '../utils/mesh.js'
import { byConstructor, takeSnapshot } from './heap-snapshot.js'
import { benchIp } from './load.js'
import { progress, round, rssMb } from './stats.js'

const mode = process.argv[2] === 'bans' ? 'bans' : 'restarts'
const work = Number(process.argv[3] ?? (mode === 'bans' ? 15_000 : 200))
const WARM_UP = mode === 'bans' ? 3000 : 10
const RATE = 50
/** Rest after a round of bans: longer than every time-bounded cache on the path (gossipsub's are 120 s). */
const REST_MS = 150_000
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

process.env.FST_NODE_ARGS = `${process.env.FST_NODE_ARGS ?? ''} --heapsnapshot-signal=SIGUSR2`.trim()
const mesh = await Mesh.create({ nodes: 2, config: () => ({ limits: { maxRemovalsPerOrigin: 2000 } }) })
let next = 0
/** `count` bans from node 1 at RATE, 20 s each, a fifth unbanned after 5 s; resolves when all are answered. */
const publish = async (count: number) => {
  const client = await ControlClient.connect(mesh.socket(1))
  const answers: Array<Promise<unknown>> = []
  const started = performance.now()
  for (let i = 0; i < count; i++, next++) {
    const ip = benchIp(next)
    const ban = { op: 'publish' as const, action: 'ban', name: 'leak', protocol: 'tcp', port: '22', ip, duration: 20 }
    answers.push(client.request(ban))
    if (next % 5 === 0) answers.push(sleep(5000).then(() => client.request({ ...ban, action: 'unban', duration: 0 })))
    const wait = started + ((i + 1) / RATE) * 1000 - performance.now()
    if (wait > 0) await sleep(wait)
    if (i % 3000 === 2999) progress(`  ${next + 1} bans, witness VmRSS ${rssMb(mesh.nodes[0]!.process!.pid!)} MB`)
  }
  await Promise.all(answers)
  client.close()
  // every ban of this round has ended, the witness has run the expiries, and gossipsub's time caches (seen
  // messages, delivery records: 120 s) have let go of this round's messages
  await sleep(REST_MS)
}
const restart = async () => {
  await mesh.stopNode(1, 'SIGKILL')
  await mesh.startNode(1)
}
const doWork = async (n: number) => {
  if (mode === 'bans') return publish(n)
  for (let i = 1; i <= n; i++) {
    await restart()
    if (i % 50 === 0) progress(`  ${i} restarts, witness VmRSS ${rssMb(mesh.nodes[0]!.process!.pid!)} MB`)
  }
}
try {
  await mesh.waitConnected()
  const witness = mesh.nodes[0]!
  const pid = witness.process!.pid!
  await doWork(WARM_UP)
  const rssBefore = rssMb(pid)
  const first = await takeSnapshot(pid, witness.dir)
  await doWork(work)
  const rssAfter = rssMb(pid)
  const last = await takeSnapshot(pid, witness.dir)
  const firstRows = byConstructor(first, Infinity)
  const before = new Map(firstRows.map(([k, mb, n]) => [k, { mb, n }]))
  const after = byConstructor(last, Infinity)
  const total = (rows: Array<[string, number, number]>) => rows.reduce((sum, [, mb]) => sum + mb, 0)
  const grown = after.map(([k, mb, n]) => ({ k, mb: mb - (before.get(k)?.mb ?? 0), n: n - (before.get(k)?.n ?? 0) }))
    .filter(g => g.n > 0).sort((a, b) => b.n - a.n).slice(0, 20)
  const unit = mode === 'bans' ? 'ban' : 'restart'
  const out = [
    `### Witness after ${work} ${unit}s (after a warm-up of ${WARM_UP})`, '',
    `VmRSS ${rssBefore} → ${rssAfter} MB; heap snapshot (live objects) ${round(total(firstRows))} → ${round(total(after))} MB`, '',
    `| constructor | objects more | per ${unit} | MB more |`, '|---|---|---|---|',
    ...grown.map(g => `| ${g.k.replaceAll('|', '\\|').slice(0, 60)} | ${g.n} | ${round(g.n / work, 3)} | ${round(g.mb, 3)} |`)
  ]
  process.stdout.write(`${out.join('\n')}\n`)
  // to follow retainers by hand (Chrome DevTools, Memory tab: compare the two)
  if (process.env.KEEP_SNAPSHOTS !== undefined) for (const [f, name] of [[first, 'first'], [last, 'last']] as const) copyFileSync(f, join(process.env.KEEP_SNAPSHOTS, `${name}.heapsnapshot`))
} finally {
  await mesh.stop()
}
