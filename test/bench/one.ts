/**
 * `tsx test/bench/one.ts 10 30`: only the propagation scenario, for the given mesh sizes (SECS seconds each,
 * default 5) at RATE bans/s (default 10), with FST_BENCH_CONFIG (JSON) merged into every node's config, e.g. '{"scriptLauncher":"spawn"}'.
 */
import { propagation } from './scenarios.js'

const sizes = process.argv.slice(2).map(Number)
const config = JSON.parse(process.env.FST_BENCH_CONFIG ?? '{}') as Record<string, unknown>
for (const n of sizes) console.log(JSON.stringify(await propagation(n, Number(process.env.RATE ?? 10), Number(process.env.SECS ?? 5), config, { atRest: true })))
