import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST, FST_NODE_FLAGS, Mesh, ROOT } from '../utils/mesh.js'

/** Issue 7's target for an idle node's resident memory. */
const IDLE_RSS_LIMIT_MB = 100
/** Caps V8's young generation, which otherwise stays large after a burst (see packages/cli/bin/fst.js). */
const SEMI_SPACE_FLAG = '--max-semi-space-size=2'

/** Resident set size of a process in MB, from /proc (what `top` and systemd's MemoryCurrent roughly show). */
function rssMb (pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
  return kb / 1024
}

/**
 * Issue 7: an idle node stays under 100 MB RSS. Two `fst start` processes, connected and idle (no bans);
 * RSS barely depends on CPU load, so this holds on a busy machine too. Measured ~76 MB on Node 20 with the
 * bundled `fst` (95-110 MB when every module was loaded on its own).
 */
describe('idle node memory', () => {
  let mesh: Mesh

  beforeAll(async () => {
    // Mesh.create returns once each node has the other as a gossipsub mesh peer
    mesh = await Mesh.create({ nodes: 2, actions: ['ban', 'unban'], config: () => ({ logLevel: 'warn' }) })
  })
  afterAll(async () => { await mesh?.stop() })

  it('keeps each node of a connected 2-node mesh under 100 MB RSS', async () => {
    for (const node of mesh.nodes) {
      expect((await mesh.status(node.index)).peers).toHaveLength(1)
      const rss = rssMb(node.process!.pid!)
      expect(rss, `node ${node.index} RSS ${rss.toFixed(1)} MB`).toBeLessThan(IDLE_RSS_LIMIT_MB)
    }
  })

  it('starts nodes with the young-generation cap however fst is launched', () => {
    expect(FST_NODE_FLAGS).toContain(SEMI_SPACE_FLAG)
    // the Mesh nodes above (test and bench nodes)
    for (const node of mesh.nodes) {
      expect(readFileSync(`/proc/${node.process!.pid}/cmdline`, 'utf8').split('\0')).toContain(SEMI_SPACE_FLAG)
    }
    // pnpm's bin shim, node_modules/.bin/fst, copies the shebang's arguments onto its node command line
    expect(readFileSync(join(ROOT, 'node_modules/.bin/fst'), 'utf8')).toMatch(new RegExp(`exec node +${SEMI_SPACE_FLAG} `))
    // the kernel runs fst.js itself (the /usr/local/bin/fst link of the install and the systemd unit) via env -S
    const direct = spawnSync(FST, ['--help'], { encoding: 'utf8' })
    expect(direct.status).toBe(0)
    expect(direct.stdout).toContain('Usage: fst')
  })
})
