import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
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
