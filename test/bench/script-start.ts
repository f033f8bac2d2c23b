import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLauncher } from '@fst/node'
import pino from 'pino'
import { benchIp } from './load.js'
import { LATENCY_SCRIPT } from './scripts.js'
import { median, round } from './stats.js'

/** Time between runs, as at 10 bans/s: each start finds the machine idle again. */
const GAP_MS = 100

/**
 * Starting one script on a quiet machine: from the node's launch request to the first statement of the
 * propagation scenario's bash script, `runs` times, through the fork server and through Node's spawn().
 * Every receiver pays this for every ban on top of its node's work; it bounds how many receivers two
 * cores can bring to their first script within a given time (docs/benchmarks.md).
 */
export async function scriptStartMs (runs: number): Promise<{ forkServer: number, spawn: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'fst-bench-start-'))
  try {
    const cwd = join(dir, 'actions', 'ban.d')
    const script = join(cwd, '50-latency')
    mkdirSync(cwd, { recursive: true })
    writeFileSync(script, LATENCY_SCRIPT)
    chmodSync(script, 0o755)
    const forkServer = await measure('auto', script, cwd, join(dir, 'lat.log'), runs)
    const spawn = await measure('spawn', script, cwd, join(dir, 'lat.log'), runs)
    return { forkServer, spawn }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function measure (mode: 'auto' | 'spawn', script: string, cwd: string, log: string, runs: number): Promise<number> {
  rmSync(log, { force: true })
  const launcher = createLauncher(pino({ level: 'silent' }), mode)
  const sent = new Map<string, number>()
  try {
    // the runner's argv and a like-sized environment; the script appends "<ip> <µs>" to ../../lat.log
    for (let i = 0; i < runs + 1; i++) {
      await new Promise(resolve => setTimeout(resolve, GAP_MS))
      const ip = benchIp(i)
      sent.set(ip, performance.timeOrigin + performance.now())
      const run = launcher.launch({ command: script, args: ['sshd', 'tcp', '22', ip], cwd, env: { PATH: '/usr/bin:/bin', FST_ACTION: 'ban', FST_NAME: 'sshd', FST_ORIGIN: '12D3KooW'.padEnd(52, 'x') }, input: null })
      const exit = await run.exited
      if (exit.code !== 0) throw new Error(`latency script failed: ${exit.error ?? exit.stderr}`)
    }
  } finally {
    launcher.close()
  }
  const samples = readFileSync(log, 'utf8').trim().split('\n').map(line => {
    const [ip, us] = line.split(' ')
    return Number(us) / 1000 - sent.get(ip!)!
  })
  // the first start also pays for the helper's own start-up
  return round(median(samples.slice(1)))
}
