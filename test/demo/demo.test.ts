import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from '../utils/mesh.js'

/** The README's demo, as a newcomer runs it, with --once so that it ends by itself. */
describe('pnpm demo --once', () => {
  // test/demo/dashboard.test.ts opens the dashboard of a demo that keeps running
  const dir = mkdtempSync(join(tmpdir(), 'fst-demo-'))
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it('starts three nodes and the metrics service, publishes one ban through the hook and shows nodes 2 and 3 running their scripts and the dashboard counting it', { timeout: 160_000 }, async () => {
    const result = await new Promise<{ code: number, stdout: string }>(resolve => {
      execFile(process.execPath, [join(ROOT, 'test/demo/demo.js'), '--once', '--dir', join(dir, 'demo')], { timeout: 150_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout: stdout + stderr })
      })
    })
    expect(result.code, result.stdout).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines).toContain('Mesh connected: every node has the other two and the metrics service as gossipsub peers.')
    expect(lines.filter(l => /^ {2}node [123] {2}12D3KooW\w+ {2}listening on 127\.0\.0\.1:\d+$/.test(l))).toHaveLength(3)
    expect(lines.filter(l => /^ {2}metrics 12D3KooW\w+ {2}listening on 127\.0\.0\.1:\d+$/.test(l))).toHaveLength(1)
    const url = lines.find(l => l.startsWith('Dashboard: '))?.slice('Dashboard: '.length)
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    expect(lines).toContain(`The dashboard counted it (${url}).`)
    expect(result.stdout).toMatch(/fst-action --config \S+node1\/config\.yml ban sshd tcp 22 203\.0\.113\.7/)
    for (const node of [2, 3]) {
      expect(lines.some(l => l.startsWith(`  node ${node} ran ban.d/50-log-only: ban sshd tcp 22 203.0.113.7 (duration 600s, from 12D3KooW`)), `node ${node}`).toBe(true)
    }
    expect(lines.some(l => l.startsWith('  node 1 ran'))).toBe(false)
    expect(lines.at(-2)).toBe('Demo done (--once).')
    // the state went where it was told, with the shipped defaults beside each node's config
    expect(existsSync(join(dir, 'demo/node1/config.yml.dist'))).toBe(true)
    expect(existsSync(join(dir, 'demo/node2/state/identity.key'))).toBe(true)
    // issue 27: a fleet's first start, as an operator reads it: each peer comes up once (no up/down flaps
    // while the nodes pin each other), one "not pinned yet" line at most, no warning
    for (const name of ['node1/node.log', 'node2/node.log', 'node3/node.log', 'metrics/metrics.log']) {
      const log = readFileSync(join(dir, 'demo', name), 'utf8').trim().split('\n').map(l => JSON.parse(l) as { level: number, msg: string })
      const shown = log.filter(l => l.level >= 30)
      expect(shown.filter(l => l.msg === 'peer up'), name).toHaveLength(3)
      expect(shown.filter(l => l.msg.startsWith('refused inbound connection from a peer not pinned yet')).length, name).toBeLessThanOrEqual(1)
      expect(shown.filter(l => l.level >= 40), name).toEqual([])
    }
  })
})
