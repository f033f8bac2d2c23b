/**
 * Where an FST node's memory goes (issue 25: measure before changing). `tsx test/bench/memory-profile.ts
 * [bans]` starts a 3-node mesh on loopback, publishes `bans` (default 0) from node 0, lets it rest, and
 * prints for receiver node 1: its RSS split by mapping (/proc/PID/smaps), V8's heap spaces, and the largest
 * heap-snapshot constructors by retained self size; the same RSS for its fork server. Markdown, for
 * docs/benchmarks.md. RSS does not depend on CPU load, so it can run beside other work (timings would not).
 */
import { copyFileSync, readFileSync } from 'node:fs'
import pWaitFor from 'p-wait-for'
import { Mesh } from '../utils/mesh.js'
import { byConstructor, largestNative, takeSnapshot } from './heap-snapshot.js'
import { feed } from './load.js'
import { rssTable } from './smaps.js'
import { childPids, round } from './stats.js'

const bans = Number(process.argv[2] ?? 0)
/** Rest after the last script ran: timers, the memory reducer (a wave's heap is given back after a quiet spell). */
const REST_MS = 40_000

function statusKb (pid: number, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
}

// a heap snapshot on SIGUSR2, written to the node's working folder
process.env.FST_NODE_ARGS = `${process.env.FST_NODE_ARGS ?? ''} --heapsnapshot-signal=SIGUSR2`.trim()
const mesh = await Mesh.create({ nodes: 3 })
try {
  await mesh.waitConnected()
  if (bans > 0) {
    await feed(mesh.socket(0), bans, 5000)
    await pWaitFor(async () => (await mesh.status(1)).ledger.entries >= bans, { interval: 200, timeout: 300_000 })
    // and its scripts have run: a receiver still working through 100,000 queued events is not at rest
    const held = performance.now()
    await pWaitFor(async () => (await mesh.status(1)).queue === 0, { interval: 500, timeout: 600_000 })
    process.stderr.write(`receiver held ${bans} bans; its scripts finished ${round((performance.now() - held) / 1000)} s later\n`)
  }
  await new Promise(resolve => setTimeout(resolve, REST_MS))
  const node = mesh.nodes[1]!
  const pid = node.process!.pid!
  const status = await mesh.status(1) as unknown as { memory?: Record<string, number> }
  const rss = statusKb(pid, 'VmRSS') / 1024
  const table = rssTable(pid)
  const forks = childPids(pid)
  const forkRss = forks.reduce((sum, p) => sum + statusKb(p, 'VmRSS'), 0) / 1024
  // NO_SNAPSHOT=1: only the RSS split (a snapshot of a 100,000-ban heap takes a minute)
  const snapshotFile = process.env.NO_SNAPSHOT === '1' ? null : await takeSnapshot(pid, node.dir)
  const out: string[] = []
  out.push(`### Receiver node, ${bans} bans, at rest (VmRSS ${round(rss)} MB; fork server ${round(forkRss)} MB in ${forks.length} process)`, '')
  out.push('| mapping | RSS MB |', '|---|---|')
  for (const [k, mb] of table) out.push(`| ${k} | ${mb} |`)
  out.push('', `fst status memory: ${JSON.stringify(status.memory ?? null)}`, '')
  if (snapshotFile !== null) {
    out.push('| heap snapshot: constructor (self size) | MB | objects |', '|---|---|---|')
    for (const [k, mb, n] of byConstructor(snapshotFile)) out.push(`| ${k.replaceAll('|', '\\|').slice(0, 60)} | ${mb} | ${n} |`)
    out.push('', '| native objects by name and size | MB | objects |', '|---|---|---|')
    for (const [k, mb, n] of largestNative(snapshotFile)) out.push(`| ${k.replaceAll('|', '\\|').slice(0, 70)} | ${mb} | ${n} |`)
  }
  process.stdout.write(`${out.join('\n')}\n`)
  // to follow a retainer path by hand (Chrome DevTools, Memory tab)
  if (process.env.KEEP_SNAPSHOT !== undefined && snapshotFile !== null) copyFileSync(snapshotFile, process.env.KEEP_SNAPSHOT)
} finally {
  await mesh.stop()
}
