import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { benchIp } from './load.js'

/**
 * The baseline FST is measured against: bans applied one `fail2ban-client set <jail> banip <ip>` at a time
 * into a self-contained fail2ban server (no firewall action). Returns null when fail2ban is not installed.
 */
export async function fail2banClientRate (calls: number): Promise<number | null> {
  try {
    execFileSync('fail2ban-client', ['--version'], { stdio: 'ignore' })
  } catch {
    return null
  }
  const dir = mkdtempSync(join(tmpdir(), 'fst-f2b-bench-'))
  const sock = join(dir, 'f2b.sock')
  mkdirSync(join(dir, 'conf', 'filter.d'), { recursive: true })
  mkdirSync(join(dir, 'conf', 'action.d'), { recursive: true })
  writeFileSync(join(dir, 'conf', 'fail2ban.conf'), `[Definition]\nloglevel = WARNING\nlogtarget = ${join(dir, 'f2b.log')}\nsocket = ${sock}\npidfile = ${join(dir, 'f2b.pid')}\ndbfile = :memory:\n`)
  writeFileSync(join(dir, 'conf', 'filter.d', 'bench.conf'), '[Definition]\nfailregex = ^Failed from <HOST>$\ndatepattern = {NONE}\n')
  writeFileSync(join(dir, 'bench.log'), '')
  writeFileSync(join(dir, 'conf', 'jail.conf'), `[bench]\nenabled = true\nfilter = bench\nlogpath = ${join(dir, 'bench.log')}\nbackend = polling\nusedns = no\nbantime = 3600\n`)
  const server = spawn('fail2ban-server', ['-f', '-x', '-c', join(dir, 'conf'), '-s', sock, '-p', join(dir, 'f2b.pid')], { cwd: dir, stdio: 'ignore' })
  try {
    await pWaitFor(() => {
      try {
        execFileSync('fail2ban-client', ['-s', sock, 'ping'], { stdio: 'ignore' })
        return true
      } catch {
        return false
      }
    }, { interval: 50, timeout: 15_000 })
    const start = performance.now()
    for (let i = 0; i < calls; i++) execFileSync('fail2ban-client', ['-s', sock, 'set', 'bench', 'banip', benchIp(i)], { stdio: 'ignore' })
    return calls / ((performance.now() - start) / 1000)
  } finally {
    try {
      execFileSync('fail2ban-client', ['-s', sock, 'stop'], { stdio: 'ignore' })
    } catch {
      server.kill('SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
  }
}
