import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Fail2ban } from '../utils/fail2ban.js'
import { benchIp } from './load.js'
import { round, rssMb } from './stats.js'

/**
 * The baseline FST is measured against: bans applied one `fail2ban-client set <jail> banip <ip>` at a time
 * into a self-contained fail2ban server (no firewall action), and what that server then keeps resident (an
 * anchor of issue 25: what FST runs beside). Returns null when fail2ban is not installed.
 */
export async function fail2banClientRate (calls: number): Promise<{ bansPerS: number, serverRssMb: number | null } | null> {
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
      const bansPerS = calls / ((performance.now() - start) / 1000)
      const rss = rssMb(f2b.pid())
      return { bansPerS, serverRssMb: rss === null ? null : round(rss) }
    } finally {
      await f2b.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
