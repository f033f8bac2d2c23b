import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Fail2ban } from '../utils/fail2ban.js'
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
  try {
    const f2b = await Fail2ban.startHere(dir, [{ name: 'bench', bantime: 3600, port: '0:65535', protocol: 'tcp' }], { logLevel: 'WARNING' })
    try {
      const start = performance.now()
      for (let i = 0; i < calls; i++) execFileSync('fail2ban-client', ['-s', f2b.sock, 'set', 'bench', 'banip', benchIp(i)], { stdio: 'ignore' })
      return calls / ((performance.now() - start) / 1000)
    } finally {
      await f2b.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
