/** `tsx test/bench/one.ts 10 30`: only the propagation scenario, for the given mesh sizes (SECS seconds each, default 5). */
import { propagation } from './scenarios.js'
const sizes = process.argv.slice(2).map(Number)
for (const n of sizes) console.log(JSON.stringify(await propagation(n, 10, Number(process.env.SECS ?? 5))))
