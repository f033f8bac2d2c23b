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
import { childPids, round } from './stats.js'

const bans = Number(process.argv[2] ?? 0)
/** Rest after the last script ran: timers, the memory reducer (a wave's heap is given back after a quiet spell). */
const REST_MS = 40_000

interface Mapping { name: string, rssKb: number, anonKb: number }

/** Every mapping of a process with its resident and anonymous kB. */
function mappings (pid: number): Mapping[] {
  const out: Mapping[] = []
  let current: Mapping | null = null
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head !== null) {
      current = { name: head[1]!.trim(), rssKb: 0, anonKb: 0 }
      out.push(current)
      continue
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line)
    if (field !== null && current !== null) {
      if (field[1] === 'Rss') current.rssKb += Number(field[2])
      else current.anonKb += Number(field[2])
    }
  }
  return out
}

/** Groups mappings into what they are: the node binary, shared libraries, native addons, LMDB files, anonymous memory. */
function rssTable (pid: number): Array<[string, number]> {
  const groups = new Map<string, number>()
  const add = (k: string, kb: number) => groups.set(k, (groups.get(k) ?? 0) + kb)
  for (const m of mappings(pid)) {
    if (m.rssKb === 0) continue
    const n = m.name
    if (n === '[heap]') add('glibc main arena ([heap])', m.rssKb)
    else if (n === '') add('anonymous (V8 heap spaces, malloc arenas, thread stacks, Buffers)', m.rssKb)
    else if (n.startsWith('[stack')) add('main thread stack', m.rssKb)
    else if (n.endsWith('/node') || /\/bin\/node$/.test(n)) add(`node binary (file-backed${m.anonKb > 0 ? ', incl. relocated pages' : ''})`, m.rssKb)
    else if (n.endsWith('.node')) add('native addons (.node: lmdb, msgpackr)', m.rssKb)
    else if (n.endsWith('.mdb') || n.endsWith('-lock') || n.includes('/ledger') || n.includes('/applied') || n.includes('/held')) add('LMDB files (mapped)', m.rssKb)
    else if (n.includes('.so')) add('shared libraries', m.rssKb)
    else add(`other: ${n.slice(-40)}`, m.rssKb)
  }
  return [...groups.entries()].sort((a, b) => b[1] - a[1]).map(([k, kb]) => [k, round(kb / 1024)])
}

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
