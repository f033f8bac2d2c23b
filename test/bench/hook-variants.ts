/**
 * The hook's start, variants side by side (issue 25): `tsx test/bench/hook-variants.ts [runs] [OLD_HOOK]`
 * times `node -e 0`, an older build's bundle (OLD_HOOK: its dist/hook/fst-action.cjs, e.g. from a worktree
 * of the commit before), this checkout's hook, and the same with Node's compile cache, one of each in turn
 * per round against a 1-node loopback mesh, and prints the medians and their ratio to `node -e 0`.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FST_ACTION, Mesh } from '../utils/mesh.js'
const runs = Number(process.argv[2] ?? 40)
const OLD = process.argv[3]
const mesh = await Mesh.create({ nodes: 1 })
const cache = mkdtempSync(join(tmpdir(), 'cc-'))
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }
try {
  const socket = mesh.socket(0)
  const v: Record<string, { args: string[], env?: NodeJS.ProcessEnv }> = {
    'node -e 0': { args: ['-e', '0'] },
    ...(OLD === undefined ? {} : { 'the older hook': { args: [OLD, '--socket', socket, 'ban', 'sshd', 'tcp', '22', 'IP'] } }),
    'this hook': { args: [FST_ACTION, '--socket', socket, 'ban', 'sshd', 'tcp', '22', 'IP'] },
    'this hook, compile cache': { args: [FST_ACTION, '--socket', socket, 'ban', 'sshd', 'tcp', '22', 'IP'], env: { ...process.env, NODE_COMPILE_CACHE: cache } },
  }
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(v).map(k => [k, []]))
  for (let i = 0; i < runs; i++) for (const [name, x] of Object.entries(v)) {
    const args = x.args.map(a => a === 'IP' ? `198.19.${(i >> 8) & 255}.${i & 255}` : a)
    const t = performance.now()
    const r = spawnSync(process.execPath, args, { stdio: 'ignore', env: x.env ?? process.env })
    if (r.status !== 0) throw new Error(`${name}: ${r.status}`)
    times[name]!.push(performance.now() - t)
  }
  const base = median(times['node -e 0']!)
  for (const [name, xs] of Object.entries(times)) console.log(`${name}: median ${median(xs).toFixed(1)} ms, ${(median(xs) / base).toFixed(2)}×`)
} finally { await mesh.stop() }
