/**
 * `tsx test/bench/catchup-mesh.ts [bans] [runs]`: only the burst and catch-up scenario of `pnpm bench` (5 nodes,
 * default 100,000 bans published through the control socket, so every entry carries its origin's proof), `runs`
 * times (default 1), one JSON line each. Run the same file in a worktree of another commit to compare versions.
 */
import { catchUp } from './scenarios.js'

const bans = Number(process.argv[2] ?? 100_000)
const runs = Number(process.argv[3] ?? 1)
for (let i = 0; i < runs; i++) console.log(JSON.stringify(await catchUp(5, bans)))
