import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadOrCreateIdentity } from '@fst/node'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import pWaitFor from 'p-wait-for'
import { FST, freePort, Mesh, type NodeStatus, waitStarted } from '../utils/mesh.js'
import { feed, socketOf } from './load.js'
import { LATENCY_SCRIPT } from './scripts.js'
import { mulberry32 } from './sim-model.js'
import { percentile, processCpuMs, progress, round, rssMb } from './stats.js'

export interface ScaleOptions {
  nodes: number
  /** connectivity.maxPeers of every node. */
  maxPeers: number
  /** Bans per second, each from the next of `origins` nodes. */
  rate: number
  seconds: number
  /** Share of the nodes killed at once (SIGKILL) before the second run; 0: no kill phase. */
  killShare: number
  /** One-way delay per link through the userspace proxy (log-normal); null: direct loopback. */
  delay: { medianMs: number, sigma: number } | null
  origins?: number
  seed?: number
}

/** Addresses of the scale bench, apart from the other scenarios' and from its warm-up. */
const OFFSET = 300_000
const WARM_UP = 10
const REST_MS = 10_000
/** How often the TCP byte counters are read (a socket closed between two reads loses at most this much). */
const SS_EVERY_MS = 2000

/**
 * Bytes sent and received on the TCP sockets of the given processes, from `ss -ti` (tcp_info's bytes_sent
 * and bytes_received), kept per socket across reads so that a socket closed in the window still counts up
 * to its last read.
 */
class ByteCounter {
  private readonly first = new Map<string, number>()
  private readonly last = new Map<string, number>()
  private timer: NodeJS.Timeout | null = null

  constructor (private readonly pids: Set<number>) {}

  start (): void {
    this.read(true)
    this.timer = setInterval(() => this.read(false), SS_EVERY_MS)
  }

  /** Bytes (sent + received) of all sockets in the window, per process on average. */
  stop (): number {
    if (this.timer !== null) clearInterval(this.timer)
    this.read(false)
    let total = 0
    for (const [key, value] of this.last) total += value - (this.first.get(key) ?? 0)
    return total / this.pids.size
  }

  private read (initial: boolean): void {
    const out = execFileSync('ss', ['-tinpH', 'state', 'established'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    let key: string | null = null
    for (const line of out.split('\n')) {
      if (!line.startsWith('\t') && !line.startsWith(' ')) {
        const pid = Number(/pid=(\d+)/.exec(line)?.[1])
        const [, , local, peer] = line.trim().split(/\s+/)
        key = this.pids.has(pid) ? `${pid} ${local} ${peer}` : null
        continue
      }
      if (key === null) continue
      const sent = Number(/bytes_sent:(\d+)/.exec(line)?.[1] ?? 0)
      const received = Number(/bytes_received:(\d+)/.exec(line)?.[1] ?? 0)
      if (initial) this.first.set(key, sent + received)
      this.last.set(key, sent + received)
    }
  }
}

interface Delivery { ip: string, node: number, via: string, origin: string, recvMs: number }

/** The "first copy" lines (debug) of every node: which peer each message came through, and when. */
function deliveries (mesh: Mesh, ips: Set<string>): Delivery[] {
  const out: Delivery[] = []
  for (const node of mesh.nodes) {
    for (const line of node.log().split('\n')) {
      if (!line.includes('"first copy"')) continue
      try {
        const rec = JSON.parse(line) as { ip?: string, via: string, origin: string, time: string }
        if (rec.ip !== undefined && ips.has(rec.ip)) out.push({ ip: rec.ip, node: node.index, via: rec.via, origin: rec.origin, recvMs: Date.parse(rec.time) })
      } catch {}
    }
  }
  return out
}

/** Script start times (ms) per node and address, from lat.log. */
function scriptStarts (mesh: Mesh, index: number): Map<string, number> {
  const file = join(mesh.nodes[index]!.dir, 'lat.log')
  const out = new Map<string, number>()
  if (!existsSync(file)) return out
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [ip, us] = line.split(' ')
    if (ip !== undefined && us !== undefined && !out.has(ip)) out.set(ip, Number(us) / 1000)
  }
  return out
}

const summary = (xs: number[]) => ({ p50: round(percentile(xs, 50)), p90: round(percentile(xs, 90)), p99: round(percentile(xs, 99)), max: round(Math.max(...xs)) })

/**
 * One phase: `count` bans at `rate`, origins taking turns, then every live receiver's script starts. Returns
 * the latency samples (hook accepted → script started), losses, and per delivery the hop and its costs.
 */
async function phase (mesh: Mesh, ids: string[], origins: number[], count: number, rate: number, offset: number, live: Set<number>) {
  const accepted = new Map<string, { ms: number, origin: number }>()
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const origin = origins[i % origins.length]!
    const r = await feed(socketOf(mesh, origin), 1, Number.POSITIVE_INFINITY, offset + i)
    for (const [ip, ms] of r.accepted) accepted.set(ip, { ms, origin })
    const wait = start + ((i + 1) / rate) * 1000 - performance.now()
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
  }
  // every live node but the origin runs one script per ban
  const expected = (index: number) => [...accepted.values()].filter(a => a.origin !== index).length
  const receivers = [...live]
  // losses are counted, not thrown: a ban missing on some node after 60 s is lost
  await pWaitFor(() => receivers.every(i => countOf(mesh, i, accepted) >= expected(i)), { interval: 250, timeout: 60_000 }).catch(() => {})
  const samples: number[] = []
  let lost = 0
  for (const i of receivers) {
    const starts = scriptStarts(mesh, i)
    for (const [ip, a] of accepted) {
      if (a.origin === i) continue
      const t = starts.get(ip)
      if (t === undefined) lost++
      else samples.push(t - a.ms)
    }
  }
  // hops: a delivery through the origin itself is hop 1, through a peer one more than that peer's
  const byId = new Map(ids.map((id, i) => [id, i]))
  const ipSet = new Set(accepted.keys())
  const recv = deliveries(mesh, ipSet)
  const recvAt = new Map(recv.map(d => [`${d.ip} ${d.node}`, d]))
  const hopOf = new Map<string, number>()
  const hop = (ip: string, node: number, depth = 0): number => {
    const key = `${ip} ${node}`
    const known = hopOf.get(key)
    if (known !== undefined) return known
    const d = recvAt.get(key)
    if (d === undefined || depth > 64) return Number.NaN
    const via = byId.get(d.via)
    const h = d.via === d.origin ? 1 : via === undefined ? Number.NaN : hop(ip, via, depth + 1) + 1
    hopOf.set(key, h)
    return h
  }
  const hops: number[] = []
  // per delivery: the hop's cost (the sender's receipt, or the origin's accept, to this receipt) and the
  // receiver's own cost (receipt to script start); the simulation draws from these
  const hopCostMs: number[] = []
  const firstHopMs: number[] = []
  const scriptMs: number[] = []
  const starts = new Map(receivers.map(i => [i, scriptStarts(mesh, i)]))
  for (const d of recv) {
    const h = hop(d.ip, d.node)
    if (Number.isFinite(h)) hops.push(h)
    const a = accepted.get(d.ip)!
    const via = byId.get(d.via)
    const from = d.via === d.origin ? a.ms : recvAt.get(`${d.ip} ${via}`)?.recvMs
    if (from !== undefined) (d.via === d.origin ? firstHopMs : hopCostMs).push(d.recvMs - from)
    const s = starts.get(d.node)?.get(d.ip)
    if (s !== undefined) scriptMs.push(s - d.recvMs)
  }
  const hopHistogram: Record<number, number> = {}
  for (const h of hops) hopHistogram[h] = (hopHistogram[h] ?? 0) + 1
  return { bans: accepted.size, samples, lost, hops, hopHistogram, hopCostMs, firstHopMs, scriptMs }
}

function countOf (mesh: Mesh, index: number, accepted: Map<string, { origin: number }>): number {
  let n = 0
  for (const ip of scriptStarts(mesh, index).keys()) if (accepted.has(ip)) n++
  return n
}

/** `pnpm bench --scale`: a partially connected fleet of real nodes, measured at rest, under 1 ban/s, and after a mass kill. */
export async function scale (opts: ScaleOptions) {
  // seeded, so a seed picks the same origins and victims
  const random = mulberry32(opts.seed ?? 21)
  const target = Math.max(1, Math.ceil((opts.maxPeers * 2) / 3))
  const mesh = await Mesh.create({
    nodes: opts.nodes,
    actions: [],
    start: false,
    // debug: the "first copy" lines give hops; rotation at its default
    config: () => ({ logLevel: 'debug', connectivity: { maxPeers: opts.maxPeers, rotateS: 60 }, redial: { minMs: 250, maxMs: 10_000 } })
  })
  let proxy: ChildProcess | null = null
  try {
    // pinned entries (ID@host:port), as a large fleet would write them: no probes
    const ids: string[] = []
    for (const node of mesh.nodes) ids.push(peerIdFromPrivateKey(await loadOrCreateIdentity(join(node.dir, 'state'))).toString())
    const listed = await Promise.all(mesh.nodes.map(async n => opts.delay === null ? n.port : await freePort()))
    writeFileSync(join(mesh.root, 'sync-peers.txt'), `${listed.map((port, i) => `${ids[i]}@127.0.0.1:${port}`).join('\n')}\n`)
    if (opts.delay !== null) proxy = await startProxy(mesh.root, mesh.nodes.map((n, i) => ({ listen: listed[i]!, target: n.port })), opts.delay, opts.seed ?? 21)
    for (const node of mesh.nodes) mesh.addScript(node.index, 'ban', '50-latency', LATENCY_SCRIPT)

    const t0 = performance.now()
    // five at a time, each given 120 s to answer (Mesh.startNode allows 30 s, too little for a shared machine)
    for (let i = 0; i < mesh.nodes.length; i += 5) await Promise.all(mesh.nodes.slice(i, i + 5).map(n => startNode(mesh, n.index)))
    const statuses = () => Promise.all(mesh.nodes.filter(n => n.process !== null).map(n => mesh.status(n.index)))
    await pWaitFor(async () => (await statuses()).every(s => s.peers.length >= target), { interval: 1000, timeout: opts.nodes * 6000 }).catch(err => {
      progress(`  not connected; node 0's log ends:\n${mesh.nodes[0]!.log().split('\n').slice(-40).join('\n')}`)
      throw err
    })
    await pWaitFor(async () => (await statuses()).every(s => s.meshPeers.length >= s.peers.length), { interval: 1000, timeout: 60_000 }).catch(() => {})
    const startedS = round((performance.now() - t0) / 1000)
    progress(`  ${opts.nodes} nodes started and connected in ${startedS} s`)

    const order = mesh.nodes.map(n => n.index).sort(() => random() - 0.5)
    const origins = order.slice(0, opts.origins ?? 10)
    const all = new Set(mesh.nodes.map(n => n.index))
    await phase(mesh, ids, origins, WARM_UP, 2, OFFSET - WARM_UP, all)

    // at rest: connections, memory, CPU and bytes per node
    await new Promise(resolve => setTimeout(resolve, 5000))
    const pids = new Set(mesh.nodes.map(n => n.process!.pid!))
    const restBytes = new ByteCounter(pids)
    const cpu0 = mesh.nodes.map(n => processCpuMs(n.process!.pid!)?.own ?? 0)
    restBytes.start()
    await new Promise(resolve => setTimeout(resolve, REST_MS))
    const restBytesPerS = restBytes.stop() / (REST_MS / 1000)
    const idleCpu = mesh.nodes.map((n, i) => ((processCpuMs(n.process!.pid!)?.own ?? 0) - cpu0[i]!) / (REST_MS / 1000))
    const rest: NodeStatus[] = await statuses()
    const rss = mesh.nodes.map(n => rssMb(n.process!.pid!) ?? Number.NaN)
    const connections = rest.map(s => s.connections)

    // the run
    const bytes = new ByteCounter(pids)
    bytes.start()
    const runStart = performance.now()
    const run = await phase(mesh, ids, origins, Math.round(opts.rate * opts.seconds), opts.rate, OFFSET, all)
    const runBytes = bytes.stop()
    const runS = (performance.now() - runStart) / 1000
    const bytesPerBan = (runBytes - restBytesPerS * runS) / run.bans
    const after = await statuses()
    progress(`  run: ${run.bans} bans, p50 ${round(percentile(run.samples, 50))} ms, p99 ${round(percentile(run.samples, 99))} ms, lost ${run.lost}, connections ${Math.min(...connections)}-${Math.max(...connections)}, RSS ${round(percentile(rss, 50))} MB median`)

    let kill = null
    if (opts.killShare > 0) {
      const victims = order.slice(-Math.round(opts.nodes * opts.killShare))
      await Promise.all(victims.map(i => mesh.stopNode(i, 'SIGKILL')))
      const live = new Set([...all].filter(i => !victims.includes(i)))
      // published at once after the kill: nobody has noticed, redialed or regrafted yet
      const k = await phase(mesh, ids, origins, Math.round(opts.rate * opts.seconds / 2), opts.rate, OFFSET + 100_000, live)
      const settled = await statuses()
      kill = { killed: victims.length, live: live.size, bans: k.bans, lost: k.lost, ...summary(k.samples), hops: summary(k.hops), connectionsAfter: { min: Math.min(...settled.map(s => s.connections)), max: Math.max(...settled.map(s => s.connections)) } }
      progress(`  after killing ${victims.length}: ${k.bans} bans, p50 ${kill.p50} ms, p99 ${kill.p99} ms, lost ${k.lost}`)
    }
    return {
      nodes: opts.nodes,
      maxPeers: opts.maxPeers,
      target,
      rate: opts.rate,
      delay: opts.delay,
      startedS,
      bans: run.bans,
      lost: run.lost,
      ...summary(run.samples),
      hops: { ...summary(run.hops), mean: round(run.hops.reduce((a, b) => a + b, 0) / run.hops.length, 2), histogram: run.hopHistogram },
      connections: { min: Math.min(...connections), median: percentile(connections, 50), max: Math.max(...connections), maxDuringRun: Math.max(...after.map(s => s.connections)) },
      rssMb: { median: round(percentile(rss, 50)), max: round(Math.max(...rss)) },
      idleCpuMsPerS: round(percentile(idleCpu, 50), 2),
      restBytesPerSPerNode: round(restBytesPerS, 0),
      bytesPerBanPerNode: round(bytesPerBan, 0),
      // for the simulation: what one hop and one script start cost, measured
      costs: {
        firstHopMs: quantiles(run.firstHopMs),
        hopMs: quantiles(run.hopCostMs),
        scriptMs: quantiles(run.scriptMs)
      },
      kill
    }
  } finally {
    await mesh.stop()
    proxy?.kill('SIGTERM')
  }
}

/** Mesh.startNode with a longer start-up allowance: spawns `fst start` and waits for its control socket. */
async function startNode (mesh: Mesh, index: number): Promise<void> {
  const node = mesh.nodes[index]!
  let output = ''
  // the bin itself, so the Node flags of its shebang apply (as Mesh.startNode does)
  const child = spawn(FST, ['start', '--config', node.configFile], { cwd: node.dir, stdio: ['ignore', 'pipe', 'pipe'] })
  // FST_SCALE_LOGS=DIR keeps every node's log in DIR/nodeI.log (the mesh's own folder goes at the end)
  const keep = process.env.FST_SCALE_LOGS
  const onData = (d: Buffer) => {
    output += d.toString()
    if (keep !== undefined) appendFileSync(join(keep, `node${index}.log`), d)
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  node.process = child
  node.log = () => output
  await waitStarted(child, `node ${index}`, node.log, () => mesh.status(index), 120_000)
}

/** 101 quantiles (0, 1, …, 100 %) of a sample: what the simulation draws from. */
function quantiles (xs: number[]): number[] {
  return Array.from({ length: 101 }, (_, p) => round(p === 0 ? Math.min(...xs) : percentile(xs, p), 2))
}

async function startProxy (dir: string, routes: Array<{ listen: number, target: number }>, delay: { medianMs: number, sigma: number }, seed: number): Promise<ChildProcess> {
  const spec = join(dir, 'proxy.json')
  writeFileSync(spec, JSON.stringify({ routes, ...delay, seed }))
  const child = spawn(process.execPath, [join(import.meta.dirname, 'delay-proxy.js'), spec], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
    child.once('exit', code => reject(new Error(`delay proxy exited ${code}`)))
  })
  return child
}

