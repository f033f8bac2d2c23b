import { mkdirSync, writeFileSync, copyFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import type { RunResult } from './mesh.js'
import type { NetnsMesh } from './netns.js'

/** A jail of the self-contained fail2ban: failed passwords in a log file the test writes. */
export interface JailSpec {
  name: string
  bantime: number
  port: string
  protocol: string
  /** Action line(s) of the jail, e.g. `fst[port="%(port)s", protocol="%(protocol)s", fst_action="…"]`. */
  action: string
}

/**
 * One fail2ban-server inside a host namespace, with its own config dir, socket and in-memory database
 * (see /work/shared/notes/TESTBED.md). Started in the foreground (-f) in its own process group; the
 * mesh's teardown kills it with the rest.
 */
export class Fail2ban {
  readonly dir: string
  readonly sock: string
  readonly logFile: string

  /** Where a host's fail2ban keeps config, socket and log, given the host's folder. */
  static dirOf (hostDir: string): string {
    return join(hostDir, 'fail2ban')
  }

  private constructor (readonly mesh: NetnsMesh, readonly index: number) {
    this.dir = Fail2ban.dirOf(mesh.host(index).dir)
    this.sock = join(this.dir, 'f2b.sock')
    this.logFile = join(this.dir, 'auth.log')
  }

  static async start (mesh: NetnsMesh, index: number, actionConf: string, jails: JailSpec[]): Promise<Fail2ban> {
    const f2b = new Fail2ban(mesh, index)
    f2b.writeConfig(actionConf, jails)
    const server = mesh.spawnIn(index, 'fail2ban-server', ['-f', '-x', '-c', f2b.dir, '-s', f2b.sock, '-p', join(f2b.dir, 'f2b.pid')], { cwd: f2b.dir })
    let exited = false
    server.once('exit', () => { exited = true })
    await pWaitFor(async () => {
      if (exited) throw new Error(`fail2ban-server on host ${index} exited:\n${server.output()}`)
      return (await f2b.client(['ping'])).code === 0
    }, { interval: 100, timeout: 15_000 })
    return f2b
  }

  private writeConfig (actionConf: string, jails: JailSpec[]): void {
    mkdirSync(join(this.dir, 'action.d'), { recursive: true })
    mkdirSync(join(this.dir, 'filter.d'), { recursive: true })
    copyFileSync(actionConf, join(this.dir, 'action.d', 'fst.conf'))
    writeFileSync(this.logFile, '')
    writeFileSync(join(this.dir, 'fail2ban.conf'), [
      '[Definition]', 'loglevel = INFO', `logtarget = ${join(this.dir, 'fail2ban.log')}`,
      `socket = ${this.sock}`, `pidfile = ${join(this.dir, 'f2b.pid')}`, 'dbfile = :memory:', ''
    ].join('\n'))
    writeFileSync(join(this.dir, 'filter.d', 'fst-test.conf'), [
      '[Definition]', 'failregex = Failed password for .* from <HOST>', 'datepattern = {NONE}', ''
    ].join('\n'))
    const lines = ['[DEFAULT]', 'backend = polling', 'usedns = no', 'ignoreself = false', 'ignoreip =', 'findtime = 600', 'maxretry = 3', '']
    for (const jail of jails) {
      lines.push(`[${jail.name}]`, 'enabled = true', 'filter = fst-test', `logpath = ${this.logFile}`, `bantime = ${jail.bantime}`,
        `port = ${jail.port}`, `protocol = ${jail.protocol}`, `action = ${jail.action}`, '')
    }
    writeFileSync(join(this.dir, 'jail.conf'), lines.join('\n'))
  }

  client (args: string[]): Promise<RunResult> {
    return this.mesh.exec(this.index, 'fail2ban-client', ['-s', this.sock, ...args])
  }

  /** Whether the jail holds the address as banned right now. */
  async banned (jail: string, ip: string): Promise<boolean> {
    const out = await this.client(['get', jail, 'banned', ip])
    if (out.code !== 0) throw new Error(`fail2ban-client get ${jail} banned ${ip} on host ${this.index}: ${out.stderr}${out.stdout}`)
    return out.stdout.trim() === '1'
  }

  /** Appends lines to the jail's log, as sshd would. */
  failedLogins (ip: string, count: number): void {
    const text = Array.from({ length: count }, (_, i) => `sshd[${1000 + i}]: Failed password for root from ${ip} port ${40000 + i} ssh2\n`).join('')
    writeFileSync(this.logFile, text, { flag: 'a' })
  }

  async stop (): Promise<void> {
    await this.client(['stop'])
  }
}
