import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from '../utils/mesh.js'
import { benchIp } from './load.js'

/**
 * Applying: `count` received bans through the shipped nftables batch action (contrib/nftables), inside a
 * throw-away network namespace so the host's ruleset is never touched. Returns seconds, or null without
 * root or nft.
 */
export function nftApplySeconds (count: number): number | null {
  if (process.getuid?.() !== 0 || spawnSync('nft', ['--version']).status !== 0) return null
  const ns = `fst-bench-nft-${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  try {
    const input = Array.from({ length: count }, (_, i) => `bench tcp 22 ${benchIp(i)} 3600\n`).join('')
    const start = performance.now()
    const out = spawnSync('ip', ['netns', 'exec', ns, join(ROOT, 'contrib/nftables/fst-nft.batch')], {
      input,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', FST_ACTION: 'ban' }
    })
    const seconds = (performance.now() - start) / 1000
    if (out.status !== 0) throw new Error(`nft batch failed: ${out.stderr.toString()}`)
    const listed = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'set', 'inet', 'fst', 'banned4']).toString()
    const elements = listed.match(/198\.1[89]\.\d+\.\d+/g)?.length ?? 0
    if (elements !== count) throw new Error(`nft set holds ${elements} of ${count} addresses`)
    return seconds
  } finally {
    execFileSync('ip', ['netns', 'del', ns])
  }
}
