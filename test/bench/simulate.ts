/**
 * `tsx test/bench/simulate.ts [SCALE_JSON]`: the discrete-event model (sim-model.ts) calibrated against the
 * 100-node scale bench (docs/benchmarks-scale.json from `pnpm bench --scale`), then run for 1,000 and 10,000
 * nodes on a WAN. Writes docs/benchmarks-sim.json and docs/benchmarks-sim.svg (or test-output/ for another
 * input). Deterministic: the seed is fixed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LARGE_FLEET } from '@fst/node'
import { ROOT } from '../utils/mesh.js'
import { type Costs, round, type SimParams, type SimResult, simulate } from './sim-model.js'
import { writeSimPlot } from './sim-plot.js'

interface Measured { nodes: number, maxPeers: number, p50: number, p99: number, hops: { mean: number }, costs: Costs, delay: { medianMs: number, sigma: number } | null }

const input = process.argv[2] ?? join(ROOT, 'docs/benchmarks-scale.json')
const official = input === join(ROOT, 'docs/benchmarks-scale.json')
const measured = JSON.parse(readFileSync(input, 'utf8')) as { loopback: Measured, delayed?: Measured, loadavg: number[] }
const loop = measured.loopback
const SEED = 21
/** A WAN between data centres: one-way delay per link log-normal, median 30 ms, p99 ~150 ms. */
const WAN = { medianMs: 30, sigma: 0.7 }

const base = (over: Partial<SimParams>): SimParams => ({
  nodes: loop.nodes,
  maxPeers: loop.maxPeers,
  tuning: LARGE_FLEET,
  messages: 60,
  seed: SEED,
  costs: loop.costs,
  hopScale: 1,
  link: null,
  lossRate: 0,
  deadShare: 0,
  partitionShare: null,
  horizonMs: 30_000,
  ...over
})
const log = (msg: string) => process.stderr.write(`[sim] ${msg}\n`)

// 1. calibration: one free factor scales every drawn hop cost (the nodes' logs show only the copy that
// arrived first, whose cost is biased low). It is fitted on the measured end-to-end p50; the p99 and the
// hop count are then the check. (Fitted instead on the winning copy's median cost, the first try, the p50
// came out 62 % high on the loaded machine's heavy-tailed costs: see docs/benchmarks.md.)
let lo = 0.2
let hi = 12
for (let i = 0; i < 12; i++) {
  const mid = (lo + hi) / 2
  if (simulate(base({ hopScale: mid })).p50 < loop.p50) lo = mid
  else hi = mid
}
const hopScale = round((lo + hi) / 2, 3)
const raw = simulate(base({ hopScale: 1 }))
const calibrated = simulate(base({ hopScale, messages: 200 }))
const err = (sim: number, real: number) => round(((sim - real) / real) * 100, 1)
const calibration = {
  measured: { p50: loop.p50, p99: loop.p99, hopsMean: loop.hops.mean, winningHopMs: loop.costs.hopMs[50] },
  rawCosts: { p50: raw.p50, p99: raw.p99, hopsMean: raw.hopsMean, winningHopMs: raw.winningHopMs },
  hopScale,
  simulated: { p50: calibrated.p50, p99: calibrated.p99, hopsMean: calibrated.hopsMean, winningHopMs: calibrated.winningHopMs, delivery: calibrated.delivery },
  errorPct: { p50: err(calibrated.p50, loop.p50), p99: err(calibrated.p99, loop.p99) },
  within25Pct: Math.abs(err(calibrated.p50, loop.p50)) <= 25 && Math.abs(err(calibrated.p99, loop.p99)) <= 25
}
log(`calibration: hopScale ${hopScale}; simulated p50 ${calibrated.p50} / p99 ${calibrated.p99} ms against measured ${loop.p50} / ${loop.p99} ms (${calibration.errorPct.p50} %, ${calibration.errorPct.p99} %)`)

// 2. out of sample: the delayed run, simulated with the loopback costs plus the proxy's link delays
let delayedCheck = null
if (measured.delayed !== undefined && measured.delayed.delay !== null) {
  const d = measured.delayed
  const sim = simulate(base({ hopScale, messages: 200, link: d.delay, nodes: d.nodes, maxPeers: d.maxPeers }))
  delayedCheck = { nodes: d.nodes, maxPeers: d.maxPeers, measured: { p50: d.p50, p99: d.p99, hopsMean: d.hops.mean }, simulated: { p50: sim.p50, p99: sim.p99, hopsMean: sim.hopsMean }, errorPct: { p50: err(sim.p50, d.p50), p99: err(sim.p99, d.p99) } }
  log(`delayed run: simulated ${sim.p50} / ${sim.p99} ms against measured ${d.p50} / ${d.p99} ms (${delayedCheck.errorPct.p50} %, ${delayedCheck.errorPct.p99} %)`)
}

// 3. beyond: 1,000 and 10,000 nodes, same per-hop costs (measured with 100 nodes on two cores: pessimistic
// for servers with a CPU each), on a WAN
const scenarios: Array<{ name: string, over: Partial<SimParams> }> = [
  { name: 'loopback costs, no link delay', over: {} },
  { name: 'WAN (30 ms median one-way)', over: { link: WAN } },
  { name: 'WAN, 1 % of transmissions retransmitted', over: { link: WAN, lossRate: 0.01 } },
  { name: 'WAN, 20 % of nodes dead (not yet noticed)', over: { link: WAN, deadShare: 0.2 } },
  { name: 'WAN, 20 % of nodes partitioned off', over: { link: WAN, partitionShare: 0.2 } }
]
const results: Array<{ scenario: string } & SimResult> = []
for (const nodes of [100, 1000, 10_000]) {
  for (const { name, over } of scenarios) {
    const started = performance.now()
    const r = simulate(base({ hopScale, nodes, messages: nodes >= 10_000 ? 10 : nodes >= 1000 ? 30 : 100, ...over }))
    results.push({ scenario: name, ...r })
    log(`${nodes} nodes, ${name}: delivery ${r.delivery} (origin's side ${r.deliveryOriginSide}), p50 ${r.p50} ms, p99 ${r.p99} ms, hops ${r.hopsMean}, copies per node ${r.copiesPerNode} (${round((performance.now() - started) / 1000, 1)} s)`)
  }
}

const outDir = official ? join(ROOT, 'docs') : join(ROOT, 'test-output')
mkdirSync(outDir, { recursive: true })
writeFileSync(join(outDir, 'benchmarks-sim.json'), `${JSON.stringify({ input: input.replace(`${ROOT}/`, ''), seed: SEED, wan: WAN, tuning: LARGE_FLEET, maxPeers: loop.maxPeers, calibration, delayedCheck, results }, null, 1)}\n`)
writeSimPlot(join(outDir, 'benchmarks-sim.svg'), results, [
  { label: 'measured, loopback', nodes: loop.nodes, p50: loop.p50, p99: loop.p99 },
  ...(measured.delayed === undefined ? [] : [{ label: `measured, ${measured.delayed.nodes} nodes, 20 ms links`, nodes: measured.delayed.nodes, p50: measured.delayed.p50, p99: measured.delayed.p99 }])
])
log(`written to ${outDir}/benchmarks-sim.json and benchmarks-sim.svg`)
