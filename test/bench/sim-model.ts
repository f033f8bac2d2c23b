/**
 * A discrete-event model of one FST fleet: the partial topology of mesh/subset.ts, gossipsub's mesh and
 * IHAVE/IWANT gossip, per-link delay, TCP loss as retransmission delay, dead nodes and a partition. Costs are
 * drawn from what the scale bench measured (test/bench/scale.ts: quantiles of each hop's and each script
 * start's cost). Deterministic for a seed.
 */

export interface Costs {
  /** 101 quantiles, ms: origin's accept → first receipt at a peer it sent to. */
  firstHopMs: number[]
  /** 101 quantiles, ms: a forwarder's receipt → the next node's receipt (loopback: all CPU and queueing). */
  hopMs: number[]
  /** 101 quantiles, ms: receipt → the receiving script's first statement. */
  scriptMs: number[]
}

export interface SimParams {
  nodes: number
  maxPeers: number
  tuning: { floodPublish: boolean, D: number, Dlo: number, Dhi: number, Dlazy: number, gossipFactor: number }
  messages: number
  seed: number
  costs: Costs
  /** Multiplies every drawn hop cost (calibration). */
  hopScale: number
  /** One-way delay per link, log-normal (drawn once per link); null: none (loopback). */
  link: { medianMs: number, sigma: number } | null
  /** Probability that a transmission needs a TCP retransmission (each one costs an RTO, at least 200 ms). */
  lossRate: number
  /** Share of nodes dead (a power cut just before the messages: nobody has noticed yet). */
  deadShare: number
  /** Share of nodes cut off from the rest (all links across dropped); null: none. */
  partitionShare: number | null
  /** Deliveries later than this after the publication count as not delivered. */
  horizonMs: number
}

export interface SimResult {
  nodes: number
  /** Delivered (message, live receiver) pairs within the horizon ÷ all such pairs. */
  delivery: number
  /** The same, counting only receivers on the origin's side of a partition. */
  deliveryOriginSide: number
  p50: number
  p90: number
  p99: number
  hopsMean: number
  hopHistogram: Record<number, number>
  /** Copies of a message one node receives, on average (mesh and gossip). */
  copiesPerNode: number
  degree: { min: number, mean: number, max: number }
  meshDegree: { min: number, mean: number, max: number }
  /** Median winning hop cost (the cost of the copy that arrived first), comparable to the measured one. */
  winningHopMs: number
}

export function mulberry32 (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), s | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A draw from a distribution given by 101 quantiles (linear between them). */
function drawer (q: number[], random: () => number): () => number {
  return () => {
    const x = random() * 100
    const i = Math.floor(x)
    return i >= 100 ? q[100]! : q[i]! + (q[i + 1]! - q[i]!) * (x - i)
  }
}

/** Min-heap of events by time. */
class Queue<T> {
  private readonly items: Array<{ t: number, v: T }> = []
  get size (): number { return this.items.length }
  push (t: number, v: T): void {
    const a = this.items
    a.push({ t, v })
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1
      if (a[p]!.t <= a[i]!.t) break;
      [a[p], a[i]] = [a[i]!, a[p]!]
      i = p
    }
  }

  pop (): { t: number, v: T } {
    const a = this.items
    const top = a[0]!
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      for (let i = 0; ;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && a[l]!.t < a[m]!.t) m = l
        if (r < a.length && a[r]!.t < a[m]!.t) m = r
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!]
        i = m
      }
    }
    return top
  }
}

/** The connections of subset.ts: each node dials random members until it holds `target`, accepting up to `maxPeers`. */
export function topology (n: number, maxPeers: number, random: () => number): Array<Set<number>> {
  const adj = Array.from({ length: n }, () => new Set<number>())
  if (n - 1 <= maxPeers) {
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) adj[i]!.add(j)
    return adj
  }
  const target = Math.max(1, Math.ceil((maxPeers * 2) / 3))
  const order = Array.from({ length: n }, (_, i) => i)
  // a few rounds in random order, like nodes starting and refilling at different moments
  for (let round = 0; round < 4; round++) {
    shuffle(order, random)
    for (const i of order) {
      for (let tries = 0; adj[i]!.size < target && tries < 20 * target; tries++) {
        const j = Math.floor(random() * n)
        if (j === i || adj[i]!.has(j) || adj[j]!.size >= maxPeers) continue
        adj[i]!.add(j)
        adj[j]!.add(i)
      }
    }
  }
  return adj
}

/** Gossipsub's mesh over the connections: each node grafts random peers up to D; a peer takes grafts up to Dhi. */
function gossipMesh (adj: Array<Set<number>>, D: number, Dhi: number, random: () => number): Array<Set<number>> {
  const mesh = adj.map(() => new Set<number>())
  const order = shuffle(adj.map((_, i) => i), random)
  for (const i of order) {
    const candidates = shuffle([...adj[i]!], random)
    for (const j of candidates) {
      if (mesh[i]!.size >= D) break
      if (mesh[i]!.has(j) || mesh[j]!.size >= Dhi) continue
      mesh[i]!.add(j)
      mesh[j]!.add(i)
    }
  }
  return mesh
}

function shuffle<T> (a: T[], random: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

const HEARTBEAT_MS = 1000
/** Gossipsub's mcache window: messages of the last three heartbeats are advertised in IHAVE. */
const GOSSIP_HEARTBEATS = 3
const MIN_RTO_MS = 200

type Event = { kind: 'copy', to: number, from: number, hop: number, cost: number } | { kind: 'gossip', node: number }

export function simulate (p: SimParams): SimResult {
  const random = mulberry32(p.seed)
  const adj = topology(p.nodes, p.maxPeers, random)
  const mesh = gossipMesh(adj, p.tuning.D, p.tuning.Dhi, random)
  const drawFirst = drawer(p.costs.firstHopMs, random)
  const drawHop = drawer(p.costs.hopMs, random)
  const drawScript = drawer(p.costs.scriptMs, random)
  const linkDelay = new Map<number, number>()
  const link = (a: number, b: number): number => {
    if (p.link === null) return 0
    const key = a < b ? a * p.nodes + b : b * p.nodes + a
    let d = linkDelay.get(key)
    if (d === undefined) {
      const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
      d = p.link.medianMs * Math.exp(p.link.sigma * z)
      linkDelay.set(key, d)
    }
    return d
  }
  // a transmission over TCP: the link's delay, plus an RTO for each retransmission it needed
  const transmit = (a: number, b: number): number => {
    const one = link(a, b)
    let t = one
    const rto = Math.max(MIN_RTO_MS, 4 * one)
    while (p.lossRate > 0 && random() < p.lossRate) t += rto
    return t
  }
  const dead = new Uint8Array(p.nodes)
  const side = new Uint8Array(p.nodes)
  const heartbeatPhase = Array.from({ length: p.nodes }, () => random() * HEARTBEAT_MS)
  const samples: number[] = []
  const hopCounts: Record<number, number> = {}
  const winning: number[] = []
  let delivered = 0
  let deliveredOriginSide = 0
  let pairs = 0
  let pairsOriginSide = 0
  let copies = 0
  let hopsTotal = 0
  let hopsN = 0

  for (let m = 0; m < p.messages; m++) {
    // each message: fresh dead nodes and partition, a random live origin
    dead.fill(0)
    side.fill(0)
    const order = shuffle(Array.from({ length: p.nodes }, (_, i) => i), random)
    for (const i of order.slice(0, Math.round(p.nodes * p.deadShare))) dead[i] = 1
    if (p.partitionShare !== null) for (const i of order.slice(p.nodes - Math.round(p.nodes * p.partitionShare))) side[i] = 1
    const origin = order.find(i => dead[i] === 0 && side[i] === 0)!
    const got = new Float64Array(p.nodes).fill(Number.POSITIVE_INFINITY)
    const hopOf = new Int32Array(p.nodes)
    const cut = (a: number, b: number) => dead[b] === 1 || side[a] !== side[b]
    const queue = new Queue<Event>()
    got[origin] = 0
    const firstTargets = p.tuning.floodPublish ? adj[origin]! : mesh[origin]!
    for (const j of firstTargets) {
      if (cut(origin, j)) continue
      const cost = drawFirst() * p.hopScale
      queue.push(cost + transmit(origin, j), { kind: 'copy', to: j, from: origin, hop: 1, cost })
    }
    const gossipAfter = (node: number, t: number) => {
      const phase = heartbeatPhase[node]!
      const first = phase + Math.ceil((t - phase) / HEARTBEAT_MS) * HEARTBEAT_MS
      for (let k = 0; k < GOSSIP_HEARTBEATS; k++) queue.push(first + k * HEARTBEAT_MS, { kind: 'gossip', node })
    }
    gossipAfter(origin, 0)
    while (queue.size > 0) {
      const { t, v } = queue.pop()
      if (t > p.horizonMs) break
      if (v.kind === 'gossip') {
        const others = [...adj[v.node]!].filter(j => !mesh[v.node]!.has(j))
        const count = Math.min(others.length, Math.max(p.tuning.Dlazy, Math.floor(p.tuning.gossipFactor * others.length)))
        for (const j of shuffle(others, random).slice(0, count)) {
          if (cut(v.node, j)) continue
          const ihaveAt = t + transmit(v.node, j)
          // a peer that has the message by the time IHAVE arrives sends no IWANT
          if (got[j]! <= ihaveAt) continue
          const cost = drawHop() * p.hopScale
          queue.push(ihaveAt + transmit(j, v.node) + cost + transmit(v.node, j), { kind: 'copy', to: j, from: v.node, hop: hopOf[v.node]! + 1, cost })
        }
        continue
      }
      copies++
      if (got[v.to]! <= t) continue
      got[v.to] = t
      hopOf[v.to] = v.hop
      if (v.hop > 1) winning.push(v.cost)
      gossipAfter(v.to, t)
      // one receive-validate-forward per node and message: its mesh peers get their copies at about the
      // same moment (a slow node is slow for all of them), then each link adds its own delay
      const cost = drawHop() * p.hopScale
      for (const j of mesh[v.to]!) {
        if (j === v.from || cut(v.to, j) || got[j]! <= t) continue
        queue.push(t + cost + transmit(v.to, j), { kind: 'copy', to: j, from: v.to, hop: v.hop + 1, cost })
      }
    }
    for (let i = 0; i < p.nodes; i++) {
      if (i === origin || dead[i] === 1) continue
      pairs++
      const onSide = side[i] === side[origin]
      if (onSide) pairsOriginSide++
      if (!Number.isFinite(got[i]!)) continue
      const at = got[i]! + drawScript()
      if (at > p.horizonMs) continue
      delivered++
      if (onSide) deliveredOriginSide++
      samples.push(at)
      hopCounts[hopOf[i]!] = (hopCounts[hopOf[i]!] ?? 0) + 1
      hopsTotal += hopOf[i]!
      hopsN++
    }
  }
  const degrees = adj.map(a => a.size)
  const meshDegrees = mesh.map(a => a.size)
  const stats = (xs: number[]) => ({ min: Math.min(...xs), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length, 1), max: Math.max(...xs) })
  return {
    nodes: p.nodes,
    delivery: round(delivered / pairs, 5),
    deliveryOriginSide: round(deliveredOriginSide / pairsOriginSide, 5),
    p50: round(percentile(samples, 50), 1),
    p90: round(percentile(samples, 90), 1),
    p99: round(percentile(samples, 99), 1),
    hopsMean: round(hopsTotal / hopsN, 2),
    hopHistogram: hopCounts,
    copiesPerNode: round(copies / (p.messages * (p.nodes - 1)), 2),
    degree: stats(degrees),
    meshDegree: stats(meshDegrees),
    winningHopMs: round(percentile(winning, 50), 1)
  }
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

export function round (value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
