import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, readFileSync, statSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { type ControlRequest, type ControlResponse, MAX_CONTROL_LINE } from '@fst/protocol'
import type { Logger } from 'pino'
import { ConfigError, errnoText } from '../errors.js'

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse>

/** Requests one connection may have in flight before the node stops reading from it (backpressure). */
const MAX_IN_FLIGHT = 2048

/**
 * The local control socket. Requests are handled concurrently but answered in order, so a bulk client can
 * pipeline; past MAX_IN_FLIGHT unanswered requests the socket is paused until answers drain.
 */
export class ControlServer {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()

  constructor (
    private readonly path: string,
    private readonly group: string | null,
    private readonly handle: ControlHandler,
    private readonly log: Logger
  ) {}

  /**
   * What start() would trip over, checked before the node opens anything: a live node on the path, a missing
   * or non-directory folder. Removes a stale socket file.
   */
  static async preflight (path: string): Promise<void> {
    await removeStaleSocket(path)
    if (isPipe(path)) return
    const folder = dirname(path)
    let isDir = false
    try {
      isDir = statSync(folder).isDirectory()
    } catch {}
    // the state dir (where the default socket lives) exists by now: the lock made it; any other folder must
    // exist already (systemd's RuntimeDirectory= makes /run/fst)
    if (!isDir) throw new ConfigError(`controlSocket: ${path}: ${folder} ${existsSync(folder) ? 'is not a directory' : 'does not exist'}`)
  }

  async start (): Promise<void> {
    await removeStaleSocket(this.path)
    const server = createServer(socket => this.serve(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', err => reject(new ConfigError(`controlSocket: ${this.path}: cannot listen: ${errnoText(err)}`)))
      server.listen(this.path, () => { server.removeAllListeners('error'); resolve() })
    })
    this.server = server
    if (!isPipe(this.path)) {
      chmodSync(this.path, 0o660)
      if (this.group !== null) chownSync(this.path, process.getuid?.() ?? 0, resolveGroup(this.group))
    }
  }

  async stop (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => (this.server === null ? resolve() : this.server.close(() => resolve())))
    this.server = null
  }

  private serve (socket: Socket): void {
    this.sockets.add(socket)
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.setEncoding('utf8')
    let buffer = ''
    let inFlight = 0
    let answered: Promise<void> = Promise.resolve()
    // answers that become ready together (one ledger commit settles thousands) leave in one write, not one
    // syscall each: the socket is corked until the event loop's next turn
    let corked = false
    const send = (text: string) => {
      if (!corked) {
        corked = true
        socket.cork()
        setImmediate(() => { corked = false; socket.uncork() })
      }
      socket.write(text)
    }
    // a line over the limit, complete or not, ends the connection once earlier answers are out
    let closing = false
    const tooLarge = () => {
      closing = true
      socket.pause()
      buffer = ''
      answered = answered.then(() => {
        socket.end(`${JSON.stringify({ ok: false, code: 'too_large', error: `request line over ${MAX_CONTROL_LINE} bytes` })}\n`)
      })
    }
    socket.on('data', (chunk: string) => {
      if (closing) return
      buffer += chunk
      let nl = buffer.indexOf('\n')
      while (nl !== -1) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        nl = buffer.indexOf('\n')
        if (line.length > MAX_CONTROL_LINE) return tooLarge()
        if (line.trim() === '') continue
        inFlight++
        if (inFlight >= MAX_IN_FLIGHT) socket.pause()
        const reply = this.answer(line)
        answered = answered.then(async () => {
          const response = await reply
          if (!socket.destroyed) send(`${JSON.stringify(response)}\n`)
          inFlight--
          if (!closing && inFlight < MAX_IN_FLIGHT / 2 && socket.isPaused()) socket.resume()
        })
      }
      if (buffer.length > MAX_CONTROL_LINE) tooLarge()
    })
  }

  private async answer (line: string): Promise<ControlResponse> {
    let request: unknown
    try {
      request = JSON.parse(line)
    } catch {
      return { ok: false, code: 'bad_request', error: 'request is not JSON' }
    }
    if (typeof request !== 'object' || request === null || typeof (request as { op?: unknown }).op !== 'string') {
      return { ok: false, code: 'bad_request', error: 'request needs an "op"' }
    }
    try {
      return await this.handle(request as ControlRequest)
    } catch (err) {
      this.log.error({ err }, 'control request failed')
      return { ok: false, code: 'internal', error: (err as Error).message }
    }
  }
}

function isPipe (path: string): boolean {
  return path.startsWith('\\\\.\\pipe\\')
}

/** A socket file left by a crashed node is removed; one a live node answers on is an error. */
async function removeStaleSocket (path: string): Promise<void> {
  if (isPipe(path) || !existsSync(path)) return
  const alive = await new Promise<boolean>(resolve => {
    const probe = createConnection(path)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => resolve(false))
  })
  if (alive) throw new ConfigError(`controlSocket: ${path}: another node is already listening there`)
  unlinkSync(path)
}

/** The id of `controlGroup`; a ConfigError for a group this server does not know (checked first at start). */
export function resolveGroup (group: string): number {
  if (/^\d+$/.test(group)) return Number(group)
  const line = readFileSync('/etc/group', 'utf8').split('\n').find(l => l.split(':')[0] === group)
  if (line !== undefined) return Number(line.split(':')[2])
  // groups from NSS (LDAP, sssd) are not in /etc/group
  try {
    const out = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    return Number(out.split(':')[2])
  } catch {
    throw new ConfigError(`controlGroup: no such group ${JSON.stringify(group)}`)
  }
}
