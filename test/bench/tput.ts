/**
 * `tsx test/bench/tput.ts [RATE] [SECS]`: only the throughput scenario of `pnpm bench` (5 nodes, one origin fed
 * RATE bans/s, default 10,000, for SECS seconds, default 30), one JSON line; the way the commits were bisected
 * (docs/benchmarks.md). FST_BENCH_CONFIG (JSON) is merged into every node's config, as in one.ts; COMMIT labels
 * the line.
 */
import { throughput } from './scenarios.js'

const [rate = 10_000, secs = 30] = process.argv.slice(2).map(Number)
const config = JSON.parse(process.env.FST_BENCH_CONFIG ?? '{}') as Record<string, unknown>
console.log(JSON.stringify({ commit: process.env.COMMIT, rate, secs, ...await throughput(5, rate, secs, config) }))
