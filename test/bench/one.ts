import { propagation } from './scenarios.js'
const sizes = process.argv.slice(2).map(Number)
for (const n of sizes) console.log(JSON.stringify(await propagation(n, 10, Number(process.env.SECS ?? 5))))
