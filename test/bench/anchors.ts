import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { FIREWALL_BOUNCER, writeFirewallBouncerConfig } from '../utils/crowdsec.js'
import { atLastResort } from '../utils/last-resort.js'
import { round, rssMb } from './stats.js'

const SSHGUARD = '/usr/libexec/sshguard'

/** Process IDs of a process group, from /proc (the sshguard pipeline is one group of four processes). */
function groupPids (pgid: number): number[] {
  return readdirSync('/proc').filter(d => /^\d+$/.test(d)).map(Number).filter(pid => {
    try {
      // the fields after the command (which may hold spaces) start after its closing parenthesis
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid
    } catch {
      return false
    }
  })
}

/**
 * An anchor of issue 25: what sshguard, which a small server runs instead of fail2ban, keeps resident. Its
 * pipeline as /usr/sbin/sshguard runs it (logtail | parser | blocker | backend, here the null backend), summed
 * over the four processes once they are up; null when sshguard is not installed.
 */
export async function sshguardRssMb (): Promise<number | null> {
  if (!existsSync(join(SSHGUARD, 'sshg-blocker'))) return null
  const dir = mkdtempSync(join(tmpdir(), 'fst-sshguard-anchor-'))
  const log = join(dir, 'auth.log')
  writeFileSync(log, '')
  const pipeline = `exec ${SSHGUARD}/sshg-logtail "$LOG" | ${SSHGUARD}/sshg-parser | ${SSHGUARD}/sshg-blocker -a 30 -p 120 -s 1800 | ${SSHGUARD}/sshg-fw-null`
  // its own process group, stopped as one (its launcher's `kill 0` would take the bench with it)
  const child = spawn('sh', ['-c', pipeline], { env: { PATH: process.env.PATH, LOG: log }, stdio: 'ignore', detached: true })
  try {
    const pgid = child.pid!
    // logtail is a shell running tail: five processes in all
    await pWaitFor(() => groupPids(pgid).length >= 5, { interval: 50, timeout: 10_000 })
    return round(groupPids(pgid).reduce((sum, pid) => sum + (rssMb(pid) ?? 0), 0))
  } finally {
    const exited = new Promise(resolve => child.once('exit', resolve))
    try {
      process.kill(-child.pid!, 'SIGTERM')
    } catch {}
    if (child.exitCode === null && child.signalCode === null) await exited
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A LAPI that answers the bouncer's decision stream with nothing to do and says `stream` on stdout for each poll. */
const EMPTY_LAPI = `require('node:http').createServer((req, res) => {
  if (req.url.startsWith('/v1/decisions/stream')) process.stdout.write('stream\\n')
  res.setHeader('content-type', 'application/json')
  res.end(req.url.startsWith('/v1/decisions/stream') ? '{"new":null,"deleted":null}' : '{}')
}).listen(8080, '127.0.0.1')`

/**
 * An anchor of issue 25: what crowdsec-firewall-bouncer (the CrowdSec bouncer FST can feed) keeps resident once
 * it has polled its decisions twice, in nftables mode. It runs in a network namespace of its own with a LAPI stub
 * beside it, so its nftables tables never touch the host's; null when it is not installed or this is not root.
 */
export async function crowdsecBouncerRssMb (): Promise<number | null> {
  if (!existsSync(FIREWALL_BOUNCER) || process.getuid?.() !== 0) return null
  const ns = `fst-anchor-${process.pid}`
  const dir = mkdtempSync(join(tmpdir(), 'fst-bouncer-anchor-'))
  const children: Array<ReturnType<typeof spawn>> = []
  const teardown = (): void => {
    for (const c of children) {
      try {
        c.kill('SIGKILL')
      } catch {}
    }
    try {
      execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' })
    } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
  const owed = atLastResort(teardown)
  try {
    execFileSync('ip', ['netns', 'add', ns])
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    const lapi = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', EMPTY_LAPI], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(lapi)
    let polls = 0
    lapi.stdout.on('data', (chunk: Buffer) => { polls += chunk.toString().split('stream').length - 1 })
    const config = writeFirewallBouncerConfig(dir, 'http://127.0.0.1:8080/', 'anchor', '1s')
    // the bouncer dials until the stub listens: no wait for the stub is needed
    const bouncer = spawn('ip', ['netns', 'exec', ns, FIREWALL_BOUNCER, '-c', config], { stdio: 'ignore' })
    children.push(bouncer)
    await pWaitFor(() => polls >= 2 || bouncer.exitCode !== null, { interval: 50, timeout: 30_000 })
    if (bouncer.exitCode !== null) throw new Error(`crowdsec-firewall-bouncer exited with ${bouncer.exitCode} before its second poll`)
    return rssMb(bouncer.pid!)
  } finally {
    const exits = children.map(c => c.exitCode !== null || c.signalCode !== null ? null : new Promise(resolve => c.once('exit', resolve)))
    for (const c of children) c.kill('SIGTERM')
    await Promise.all(exits)
    teardown()
    owed()
  }
}
