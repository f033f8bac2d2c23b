import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { FST_ACTION, ROOT, run, type RunResult } from './mesh.js'
import { NetnsMesh } from './netns.js'

/** A jail of the self-contained fail2ban: failed passwords in a log file the test writes. */
export interface JailSpec {
  name: string
  bantime: number
  port: string
  protocol: string
  /** Action line(s) of the jail, e.g. `fst[port="%(port)s", protocol="%(protocol)s", fst_action="…"]`; none: bans only. */
  action?: string
}

export interface Fail2banOptions {
  /** The fail2ban action file installed as action.d/fst.conf, if the jails use it. */
  actionConf?: string
  /** fail2ban's own log level (default INFO). */
  logLevel?: 'INFO' | 'WARNING'
  /**
   * Keep bans in a database file in the server's folder (`fail2ban.sqlite3`), so that `restart()` restores
   * them as a real server does; default an in-memory database, empty on every start.
   */
  persist?: boolean
  /** More action files copied into action.d (e.g. Debian's nftables.conf for a real firewall action). */
  actionFiles?: string[]
}

/** Where the server runs: a host of a NetnsMesh, or (the bench) this machine's own namespace. */
interface Place {
  label: string
  /** The folder the server's folder `fail2ban/` goes in. */
  hostDir: string
  spawn (command: string, args: string[], cwd: string): ChildProcess & { output: () => string }
  exec (command: string, args: string[]): Promise<RunResult>
}

function meshHost (mesh: NetnsMesh, index: number): Place {
  return {
    label: `host ${index}`,
    hostDir: mesh.host(index).dir,
    spawn: (command, args, cwd) => mesh.spawnIn(index, command, args, { cwd }),
    exec: (command, args) => mesh.exec(index, command, args)
  }
}

function thisMachine (hostDir: string): Place {
  return {
    label: 'this machine',
    hostDir,
    spawn: (command, args, cwd) => {
      const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { output: () => string }
      let output = ''
      child.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-200_000) })
      child.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-200_000) })
      child.output = () => output
      return child
    },
    exec: (command, args) => run(command, args)
  }
}

/**
 * One self-contained fail2ban-server, with its own config dir, socket and in-memory database (see
 * /work/shared/notes/TESTBED.md). Inside a host namespace (`start`) it runs in its own process group and the
 * mesh's teardown kills it with the rest; on this machine (`startHere`, the bench) `stop()` ends it.
 */
export class Fail2ban {
  readonly dir: string
  readonly sock: string
  readonly logFile: string

  /** Where a host's fail2ban keeps config, socket and log, given the host's folder. */
  static dirOf (hostDir: string): string {
    return join(hostDir, 'fail2ban')
  }

  private server: ChildProcess | null = null
  private running = false

  private constructor (private readonly place: Place) {
    this.dir = Fail2ban.dirOf(place.hostDir)
    this.sock = join(this.dir, 'f2b.sock')
    this.logFile = join(this.dir, 'auth.log')
  }

  /** Starts fail2ban on a host of the mesh. */
  static start (mesh: NetnsMesh, index: number, actionConf: string, jails: JailSpec[], options: Omit<Fail2banOptions, 'actionConf'> = {}): Promise<Fail2ban> {
    return new Fail2ban(meshHost(mesh, index)).launch(jails, { ...options, actionConf })
  }

  /** Starts fail2ban on this machine, its folder under `hostDir`; the caller must `stop()` it. */
  static startHere (hostDir: string, jails: JailSpec[], options: Fail2banOptions = {}): Promise<Fail2ban> {
    return new Fail2ban(thisMachine(hostDir)).launch(jails, options)
  }

  private async launch (jails: JailSpec[], options: Fail2banOptions): Promise<this> {
    this.writeConfig(jails, options)
    await this.serve()
    return this
  }

  /** Starts the server on the config as written; resolves once it answers. */
  private async serve (): Promise<void> {
    const server = this.place.spawn('fail2ban-server', ['-f', '-x', '-c', this.dir, '-s', this.sock, '-p', join(this.dir, 'f2b.pid')], this.dir)
    this.server = server
    this.running = true
    server.once('exit', () => { this.running = false })
    try {
      await pWaitFor(async () => {
        if (!this.running) throw new Error(`fail2ban-server on ${this.place.label} exited:\n${server.output()}`)
        return (await this.client(['ping'])).code === 0
      }, { interval: 100, timeout: 15_000 })
    } catch (err) {
      server.kill('SIGKILL')
      throw err
    }
  }

  /**
   * What `systemctl restart fail2ban` does: stops the server (its jails flush their bans through the
   * actions), waits for it to exit, and starts it again on the same config and database, which restores the
   * bans still running (with `persist`). `actionConf`: install this action.d/fst.conf before the start.
   */
  async restart (actionConf?: string): Promise<void> {
    await this.halt()
    await this.resume(actionConf)
  }

  /** The first half of `restart()`: stops the server and waits until it has exited. */
  async halt (timeoutMs = 30_000): Promise<void> {
    // the client gives up after 30 s by default, and a stop that unbans through slow actions takes longer
    const stopped = await this.client(['--timeout', String(Math.ceil(timeoutMs / 1000)), 'stop'])
    if (stopped.code !== 0) throw new Error(`fail2ban-client stop on ${this.place.label}: ${stopped.stderr}${stopped.stdout}`)
    await pWaitFor(() => !this.running, { interval: 50, timeout: { milliseconds: timeoutMs, message: `fail2ban-server on ${this.place.label} did not exit after stop` } })
  }

  /** The second half of `restart()`: starts the halted server again, with `actionConf` as action.d/fst.conf if given. */
  async resume (actionConf?: string): Promise<void> {
    if (actionConf !== undefined) copyFileSync(actionConf, join(this.dir, 'action.d', 'fst.conf'))
    await this.serve()
  }

  /** The server's process ID (its pidfile), e.g. to read its CPU time and its children's from /proc. */
  pid (): number {
    return Number(readFileSync(join(this.dir, 'f2b.pid'), 'utf8').trim())
  }

  private writeConfig (jails: JailSpec[], options: Fail2banOptions): void {
    mkdirSync(join(this.dir, 'action.d'), { recursive: true })
    mkdirSync(join(this.dir, 'filter.d'), { recursive: true })
    if (options.actionConf !== undefined) copyFileSync(options.actionConf, join(this.dir, 'action.d', 'fst.conf'))
    for (const file of options.actionFiles ?? []) copyFileSync(file, join(this.dir, 'action.d', basename(file)))
    writeFileSync(this.logFile, '')
    writeFileSync(join(this.dir, 'fail2ban.conf'), [
      '[Definition]', `loglevel = ${options.logLevel ?? 'INFO'}`, `logtarget = ${join(this.dir, 'fail2ban.log')}`,
      `socket = ${this.sock}`, `pidfile = ${join(this.dir, 'f2b.pid')}`,
      `dbfile = ${options.persist === true ? join(this.dir, 'fail2ban.sqlite3') : ':memory:'}`, ''
    ].join('\n'))
    writeFileSync(join(this.dir, 'filter.d', 'fst-test.conf'), [
      '[Definition]', 'failregex = Failed password for .* from <HOST>', 'datepattern = {NONE}', ''
    ].join('\n'))
    const lines = ['[DEFAULT]', 'backend = polling', 'usedns = no', 'ignoreself = false', 'ignoreip =', 'findtime = 600', 'maxretry = 3', '']
    for (const jail of jails) {
      lines.push(`[${jail.name}]`, 'enabled = true', 'filter = fst-test', `logpath = ${this.logFile}`, `bantime = ${jail.bantime}`,
        `port = ${jail.port}`, `protocol = ${jail.protocol}`, ...(jail.action === undefined ? [] : [`action = ${jail.action}`]), '')
    }
    writeFileSync(join(this.dir, 'jail.conf'), lines.join('\n'))
  }

  client (args: string[]): Promise<RunResult> {
    return this.place.exec('fail2ban-client', ['-s', this.sock, ...args])
  }

  /** Whether the jail holds the address as banned right now. */
  async banned (jail: string, ip: string): Promise<boolean> {
    const out = await this.client(['get', jail, 'banned', ip])
    if (out.code !== 0) throw new Error(`fail2ban-client get ${jail} banned ${ip} on ${this.place.label}: ${out.stderr}${out.stdout}`)
    return out.stdout.trim() === '1'
  }

  /** Appends lines to the jail's log, as sshd would. */
  failedLogins (ip: string, count: number): void {
    const text = Array.from({ length: count }, (_, i) => `sshd[${1000 + i}]: Failed password for root from ${ip} port ${40000 + i} ssh2\n`).join('')
    writeFileSync(this.logFile, text, { flag: 'a' })
  }

  /** Asks the server to stop; kills it if it does not answer. */
  async stop (): Promise<void> {
    if ((await this.client(['stop'])).code !== 0) this.server?.kill('SIGKILL')
  }

  /** Lines of the server's own log (fail2ban.log) that contain `text`. */
  logLines (text: string): string[] {
    return readFileSync(join(this.dir, 'fail2ban.log'), 'utf8').split('\n').filter(l => l.includes(text))
  }
}

export interface ShippedFail2banOptions {
  /** Bans in a database file, restored by `Fail2ban.restart()` (see Fail2banOptions.persist). */
  persist?: boolean
  /**
   * The jail also firewalls with Debian's `nftables-allports` action (nft inside the host's namespace, set
   * `addr-set-<jail>` of table `inet f2b-table`), listed before `fst` as in the docs' jail line.
   */
  firewall?: boolean
}

/** The Debian action files `firewall` uses. */
const NFTABLES_ACTIONS = ['/etc/fail2ban/action.d/nftables.conf', '/etc/fail2ban/action.d/nftables-allports.conf']

/**
 * Hosts in namespaces as the docs set them up: each an FST node and its own fail2ban, whose jail `jail` (its
 * bantime per host) carries the shipped `fst` action, and the shipped ban.d/unban.d scripts that apply
 * received bans through that fail2ban. Started; the caller stops the fail2bans and destroys the mesh.
 */
export async function shippedFail2banMesh (hosts: number, jail: string, bantime: (index: number) => number, options: ShippedFail2banOptions = {}): Promise<{ mesh: NetnsMesh, f2b: Fail2ban[] }> {
  const actions = join(ROOT, 'actions')
  const mesh = await NetnsMesh.create({
    hosts,
    start: false,
    // the shipped scripts find this host's fail2ban through scriptEnv; the jail is the event's name
    config: (_i, dir) => ({ scriptEnv: { FST_FAIL2BAN_SOCKET: join(Fail2ban.dirOf(dir), 'f2b.sock') } })
  })
  const f2b: Fail2ban[] = []
  try {
    for (const host of mesh.hosts) {
      const fst = `fst[port="%(port)s", protocol="%(protocol)s", fst_action="${process.execPath} ${FST_ACTION}", fst_config="${host.configFile}", fst_socket="${host.socket}"]`
      f2b.push(await Fail2ban.start(mesh, host.index, join(ROOT, 'contrib/fail2ban/action.d/fst.conf'), [{
        name: jail,
        bantime: bantime(host.index),
        port: '22',
        protocol: 'tcp',
        action: options.firewall === true ? `nftables-allports[name=${jail}]\n         ${fst}` : fst
      }], { persist: options.persist, actionFiles: options.firewall === true ? NFTABLES_ACTIONS : [] }))
      mesh.installScript(host.index, 'ban', '50-fail2ban.batch', { file: join(actions, 'ban.d/50-fail2ban.batch') })
      mesh.installScript(host.index, 'unban', '50-fail2ban.batch', { file: join(actions, 'unban.d/50-fail2ban.batch') })
      mkdirSync(join(host.dir, 'actions/lib'), { recursive: true })
      const lib = join(host.dir, 'actions/lib/fst-fail2ban')
      copyFileSync(join(actions, 'lib/fst-fail2ban'), lib)
      chmodSync(lib, 0o755)
    }
    await mesh.startAll()
  } catch (err) {
    await Promise.all(f2b.map(f => f.stop()))
    await mesh.destroy()
    throw err
  }
  return { mesh, f2b }
}
