import { spawnSync } from 'node:child_process'
import { defaultConfig } from '@fst/node'
import pWaitFor from 'p-wait-for'
import { FST_ACTION, Mesh } from '../utils/mesh.js'
import { feed, readLatencies, socketOf, waitForLines } from './load.js'
import { LATENCY_BATCH_SCRIPT, LATENCY_SCRIPT } from './scripts.js'
import { childPids, machineCpuMs, median, percentile, processCpuMs, round, rssMb, rssSplitMb } from './stats.js'

const QUIET = { logLevel: 'warn' }
/** Addresses for warm-up bans, apart from the measured ones. */
const WARM_UP_OFFSET = 100_000
/** How long after a wave the memory of a node holding it is read. */
const SETTLE_MS = 5000
/** How long a mesh's CPU at rest is measured before its propagation run. */
const IDLE_WINDOW_MS = 5000
/**
 * The window starts this long after the nodes were started, and at least SETTLE_IDLE_MS after the warm-up
 * bans: a node's first ~20 s still hold start-up work (a 3-node mesh measured 4 s after its warm-up used
 * 16-25 ms/s, 5 ms/s after 20 s).
 */
const REST_AFTER_START_MS = 20_000
const SETTLE_IDLE_MS = 4000

async function latencyMesh (nodes: number, opts: { batchScripts?: boolean, config?: Record<string, unknown> } = {}): Promise<Mesh> {
  const mesh = await Mesh.create({ nodes, actions: [], start: false, config: () => ({ ...QUIET, ...opts.config }) })
  for (const node of mesh.nodes) {
    mesh.addScript(node.index, 'ban', opts.batchScripts === true ? '50-latency.batch' : '50-latency', opts.batchScripts === true ? LATENCY_BATCH_SCRIPT : LATENCY_SCRIPT)
  }
  try {
    await Promise.all(mesh.nodes.map(n => mesh.startNode(n.index)))
    // every node connected to every other; then give gossipsub time to learn all subscriptions, without
    // failing when it does not (see subscribedShare): messages then travel the mesh instead of one hop
    const statuses = () => Promise.all(mesh.nodes.map(n => mesh.status(n.index)))
    await pWaitFor(async () => (await statuses()).every(s => s.peers.length >= nodes - 1), { interval: 100, timeout: 60_000 })
    await pWaitFor(async () => (await statuses()).every(s => s.meshPeers.length >= nodes - 1), { interval: 100, timeout: 20_000 }).catch(() => {})
  } catch (err) {
    await mesh.stop()
    throw err
  }
  return mesh
}

/** Starts counting the CPU of every node process and of every fork server (with its finished scripts). */
function cpuSplit (mesh: Mesh) {
  const pids = mesh.nodes.map(n => n.process!.pid!)
  const read = () => pids.map(pid => {
    const node = processCpuMs(pid)?.own ?? Number.NaN
    const helpers = childPids(pid).map(processCpuMs).reduce((sum, c) => sum + (c === null ? 0 : c.own + c.children), 0)
    return { node, helpers }
  })
  const before = read()
  return {
    /** CPU since the start divided by `count` (bans, or seconds for a rate). */
    per (count: number) {
      const after = read()
      const d = after.map((a, i) => ({ node: a.node - before[i]!.node, helpers: a.helpers - before[i]!.helpers }))
      const receivers = d.slice(1)
      const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / xs.length / count, 2)
      return { origin: round(d[0]!.node / count, 2), receiver: mean(receivers.map(r => r.node)), launcher: mean(receivers.map(r => r.helpers)) }
    }
  }
}

/** Share of (node, peer) pairs where the node knows the peer subscribed to the topic. */
async function subscribedShare (mesh: Mesh): Promise<number> {
  const all = await Promise.all(mesh.nodes.map(n => mesh.status(n.index)))
  const known = all.reduce((sum, s) => sum + s.meshPeers.length, 0)
  return round(known / (all.length * (all.length - 1)), 2)
}

/** Hook wall time against `node -e 0`, interleaved so both see the same machine load. */
export async function hookTime (runs: number) {
  const mesh = await latencyMesh(1)
  try {
    const time = (args: string[]) => {
      const start = performance.now()
      const out = spawnSync(process.execPath, args, { stdio: 'ignore' })
      if (out.status !== 0) throw new Error(`${args.join(' ')} exited ${out.status}`)
      return performance.now() - start
    }
    const hook: number[] = []
    const hookConfig: number[] = []
    const bare: number[] = []
    for (let i = 0; i < runs; i++) {
      bare.push(time(['-e', '0']))
      hook.push(time([FST_ACTION, '--socket', socketOf(mesh, 0), 'ban', 'sshd', 'tcp', '22', `198.18.200.${i % 250}`]))
      hookConfig.push(time([FST_ACTION, '--config', mesh.nodes[0]!.configFile, 'ban', 'sshd', 'tcp', '22', `198.18.201.${i % 250}`]))
    }
    return { hook_ms_median: round(median(hook)), hook_config_ms_median: round(median(hookConfig)), node_e0_ms_median: round(median(bare)) }
  } finally {
    await mesh.stop()
  }
}

/** Hook accepted → first receiving script started, on every receiver, at a steady rate. */
export async function propagation (nodes: number, rate: number, seconds: number, config: Record<string, unknown> = {}, opts: { atRest?: boolean } = {}) {
  const started = performance.now()
  const mesh = await latencyMesh(nodes, { config })
  try {
    const receivers = mesh.nodes.slice(1).map(n => n.index)
    const count = Math.round(rate * seconds)
    // warm-up: start-up work (catch-up pulls, mesh grafting) is over once a few bans went everywhere
    const warmUp = 10
    await feed(socketOf(mesh, 0), warmUp, rate, WARM_UP_OFFSET)
    await waitForLines(mesh, receivers, warmUp, 60_000)
    // the mesh at rest first (when asked), once start-up and the warm-up's gossip are over: what its
    // background work (pings, heartbeats, timers) costs each node, and a receiver's memory
    let idle: { receiver: number } | null = null
    let restRss: number | null = null
    let restForkRss: number | null = null
    if (opts.atRest === true) {
      const wait = Math.max(SETTLE_IDLE_MS, started + REST_AFTER_START_MS - performance.now())
      await new Promise(resolve => setTimeout(resolve, wait))
      const rest = cpuSplit(mesh)
      await new Promise(resolve => setTimeout(resolve, IDLE_WINDOW_MS))
      idle = rest.per(IDLE_WINDOW_MS / 1000)
      restRss = rssMb(mesh.nodes[1]!.process!.pid!)
      // the node's children at rest: its fork server (no script runs now)
      restForkRss = round(childPids(mesh.nodes[1]!.process!.pid!).reduce((sum, pid) => sum + (rssMb(pid) ?? 0), 0))
    }
    const cpuBefore = machineCpuMs()
    const split = cpuSplit(mesh)
    const { accepted } = await feed(socketOf(mesh, 0), count, rate)
    await waitForLines(mesh, receivers, warmUp + count, 30_000)
    const cpuAfter = machineCpuMs()
    const { origin, receiver, launcher } = split.per(count)
    const { samples, seen } = readLatencies(mesh, receivers, accepted)
    const afterRss = rssMb(mesh.nodes[1]!.process!.pid!)
    return {
      nodes,
      subscribed: await subscribedShare(mesh),
      p50: round(percentile(samples, 50)),
      p90: round(percentile(samples, 90)),
      p99: round(percentile(samples, 99)),
      max: round(Math.max(...samples)),
      // by address, not by line count: a ban whose address no receiver's log holds is lost, whatever the count
      lost: receivers.length * count - seen.reduce((a, b) => a + b, 0),
      // a receiver's memory at rest (started, warm-up bans applied) and right after the run
      restRssMb: restRss,
      restForkServerRssMb: restForkRss,
      rssMb: afterRss,
      // CPU of the whole machine while the bans were fed and run, per ban: every node, fork server and
      // script, plus the mesh's background work (pings, heartbeats) in that time. Past saturation (two
      // cores' worth) it only shows the machine was full
      cpuMsPerBan: cpuBefore === null || cpuAfter === null ? null : round((cpuAfter - cpuBefore) / count),
      // CPU of one node (mean over receivers) per second while the mesh is at rest, then the run's CPU split by
      // process, per ban: the origin's node, one receiver's node (mean), one receiver's fork server with the
      // scripts it ran (mean)
      idleCpuMsPerS: idle?.receiver ?? null,
      originCpuMs: origin,
      receiverCpuMs: receiver,
      launcherCpuMs: launcher
    }
  } finally {
    await mesh.stop()
  }
}

/** One origin fed at `rate` for `seconds` into a mesh through the control socket; batch scripts record. */
export async function throughput (nodes: number, rate: number, seconds: number, config: Record<string, unknown> = {}) {
  const count = Math.round(rate * seconds)
  // one origin sends every ban: the per-origin bound must hold the whole run (the default 250,000 is below the
  // full bench's 300,000 and 360,000), or each receiver refuses the rest as origin_limit and the run counts them lost
  const limits = { maxActivePerOrigin: Math.max(count, defaultConfig.limits.maxActivePerOrigin) }
  const mesh = await latencyMesh(nodes, { batchScripts: true, config: { limits, ...config } })
  try {
    const receivers = mesh.nodes.slice(1).map(n => n.index)
    const nodeCpuMs = () => mesh.nodes.map(n => processCpuMs(n.process!.pid!)?.own ?? Number.NaN)
    const cpuBefore = nodeCpuMs()
    const { accepted, refused, firstSentMs } = await feed(socketOf(mesh, 0), count, rate)
    await waitForLines(mesh, receivers, accepted.size, Math.max(30_000, seconds * 4000))
    const { samples, seen, lastStartMs } = readLatencies(mesh, receivers, accepted)
    const ledgers = await Promise.all(mesh.nodes.map(n => mesh.status(n.index).then(s => s.ledger.entries)))
    const rss = mesh.nodes.map(n => rssMb(n.process!.pid!))
    const cpuAfter = nodeCpuMs()
    return {
      offered: count,
      accepted: accepted.size,
      refused,
      achieved_per_s: round(accepted.size / ((lastStartMs - firstSentMs) / 1000), 0),
      lost: receivers.length * accepted.size - seen.reduce((a, b) => a + b, 0),
      ledgersComplete: ledgers.every(n => n >= accepted.size),
      p50: round(percentile(samples, 50)),
      p99: round(percentile(samples, 99)),
      maxRssMb: Math.max(...rss.map(r => r ?? 0)),
      // the nodes' own CPU (not their scripts') from the feed's start to the last run: steadier than the rate
      // on a machine where five nodes share two cores
      nodeCpuS: round(cpuAfter.reduce((sum, after, i) => sum + after - cpuBefore[i]!, 0) / 1000, 1)
    }
  } finally {
    await mesh.stop()
  }
}

/** A node that was away receives every active ban when it returns. */
export async function catchUp (nodes: number, bans: number) {
  const mesh = await latencyMesh(nodes, { batchScripts: true })
  try {
    const late = nodes - 1
    await mesh.stopNode(late)
    const burstStart = performance.now()
    const { accepted } = await feed(socketOf(mesh, 0), bans, Number.POSITIVE_INFINITY)
    const online = mesh.nodes.slice(1, late).map(n => n.index)
    const burstApplied = await waitForLines(mesh, online, accepted.size, 300_000)
    const burstSeconds = (performance.now() - burstStart) / 1000
    const burstRss = rssMb(mesh.nodes[1]!.process!.pid!)
    // settled: the node gives a wave's heap back after 2 s without changes (MemoryReducer); measured 5 s on
    await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
    const activeRss = rssMb(mesh.nodes[1]!.process!.pid!)
    const activeSplit = rssSplitMb(mesh.nodes[1]!.process!.pid!)
    const activeHeap = (await mesh.status(1)).memory
    const started = performance.now()
    await mesh.startNode(late)
    const complete = await mesh.waitForLedger(late, accepted.size, 60_000)
    const seconds = (performance.now() - started) / 1000
    return {
      bans: accepted.size,
      burst_applied_s: burstApplied ? round(burstSeconds, 2) : null,
      catchup_s: complete ? round(seconds, 2) : null,
      rss_burst_mb: burstRss,
      rss_active_mb: activeRss,
      rss_active_anon_mb: activeSplit.anon,
      rss_active_file_mb: activeSplit.file,
      heap_active_used_mb: activeHeap?.heapUsedMb ?? null,
      heap_active_total_mb: activeHeap?.heapTotalMb ?? null,
      external_active_mb: activeHeap?.externalMb ?? null
    }
  } finally {
    await mesh.stop()
  }
}
