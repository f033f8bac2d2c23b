import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ask } from '@fst/cli'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST, freePort, run, waitStarted, writeNodeConfig } from '../utils/mesh.js'
import { requireRoot } from '../utils/netns.js'
import { rssMb } from '../bench/stats.js'

/** Entries besides the node itself: half addresses, half names, none of which answers. */
const OTHERS = 9999
/** Bounds with margin over what the fixed node measured here (docs/configuration.md, "A large peers file"). */
const MAX_CPU_SHARE = 0.25
const MAX_RSS_MB = 250
/** Dial or resolve attempts that make the measuring window. */
const ATTEMPTS = 60

/** utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15). */
function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}


/**
 * Issue 26 finding 6c: a sync-peers.txt of 10,000 entries that do not answer left an idle node at 100 % CPU
 * and hundreds of MB. The node runs in a network namespace with loopback only, so every dial to 10.77.x
 * fails at once (no route) and every name fails to resolve at once (the resolver is not reachable from
 * there): the worst case for a loop that redials from its own failures, and no packet leaves the machine.
 */
describe('an idle node with 10,000 peers-file entries that do not answer', () => {
  const ns = `fst${process.pid}peers`
  const root = mkdtempSync(join(tmpdir(), 'fst-peers-'))
  const dir = join(root, 'node')
  let node: ChildProcess | null = null
  let output = ''
  const status = () => ask(join(dir, 'state', 'fst.sock'), { op: 'status' })
  const lines = (text: string) => output.split('\n').filter(l => l.includes(text)).length

  beforeAll(async () => {
    requireRoot()
    expect((await run('ip', ['netns', 'add', ns])).code).toBe(0)
    expect((await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])).code).toBe(0)
    mkdirSync(join(dir, 'actions'), { recursive: true })
    const port = await freePort()
    const others = Array.from({ length: OTHERS }, (_, i) => i % 2 === 0 ? `10.77.${(i >> 8) & 255}.${(i & 255) | 1}:4242` : `peer${i}.invalid:4242`)
    writeFileSync(join(root, 'sync-peers.txt'), `127.0.0.1:${port}\n${others.join('\n')}\n`)
    // production redial backoff; debug for the dial and resolve failures that make the window
    writeNodeConfig(join(dir, 'config.yml'), `127.0.0.1:${port}`, { redial: { minMs: 500, maxMs: 30_000 }, logLevel: 'debug' })
    const child = spawn('ip', ['netns', 'exec', ns, FST, 'start', '--config', join(dir, 'config.yml')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    node = child
    // the control socket answering is "started"; before the fix it did not for over a minute
    await waitStarted(child, 'node', () => output, status, 30_000)
  }, 60_000)

  afterAll(async () => {
    if (node !== null && node.exitCode === null && node.signalCode === null) {
      const exited = new Promise(resolve => node!.once('exit', resolve))
      node.kill('SIGTERM')
      await exited
    }
    await run('ip', ['netns', 'del', ns])
    rmSync(root, { recursive: true, force: true })
  })

  it('stays at a small share of a core and bounded memory while it keeps trying, and answers its socket', async () => {
    const pid = node!.pid!
    const attempts = () => lines('"msg":"dial failed"') + lines('"msg":"resolve failed"')
    // the window is a number of attempts, not a time: the node must be trying, and what it costs is per wall second
    const startAttempts = attempts()
    const startCpu = cpuSeconds(pid)
    const startWall = performance.now()
    await pWaitFor(() => attempts() - startAttempts >= ATTEMPTS, { interval: 50, timeout: 60_000 })
    const wallS = (performance.now() - startWall) / 1000
    const share = (cpuSeconds(pid) - startCpu) / wallS
    const rss = rssMb(pid)!
    const asked = performance.now()
    expect((await status()).ok).toBe(true)
    const answerMs = performance.now() - asked
    console.log(`idle with ${OTHERS + 1} entries: ${(share * 100).toFixed(1)} % CPU over ${wallS.toFixed(1)} s (${ATTEMPTS} attempts), ${rss.toFixed(0)} MB RSS, status in ${answerMs.toFixed(0)} ms`)
    expect(share, `CPU ${(share * 100).toFixed(1)} % over ${wallS.toFixed(1)} s`).toBeLessThan(MAX_CPU_SHARE)
    expect(rss).toBeLessThan(MAX_RSS_MB)
    expect(answerMs).toBeLessThan(1000)
    // probes are paced (ten a second, and the subset's own dials): ATTEMPTS take seconds, not milliseconds
    expect(wallS).toBeGreaterThan(2)
  })

  it('logs the names it cannot resolve in one line, not one per entry', () => {
    expect(lines('cannot resolve peer')).toBe(1)
    const line = output.split('\n').find(l => l.includes('cannot resolve peers'))!
    expect(JSON.parse(line)).toMatchObject({ level: 40, count: Math.floor(OTHERS / 2) })
  })
})
