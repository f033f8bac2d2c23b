import { createConnection, type Socket } from 'node:net'
import type { ControlRequest, ControlResponse } from '@fst/protocol'
import { EXIT, UsageError } from './errors.js'

/**
 * A connection to the local node's control socket. Requests may be pipelined: answers come back in order.
 */
export class ControlClient {
  private buffer = ''
  private readonly waiting: Array<(r: ControlResponse) => void> = []
  private closedError: Error | null = null

  private constructor (private readonly socket: Socket) {
    socket.setEncoding('utf8')
    socket.on('error', err => { this.closedError = err })
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      let nl = this.buffer.indexOf('\n')
      while (nl !== -1) {
        const line = this.buffer.slice(0, nl)
        this.buffer = this.buffer.slice(nl + 1)
        nl = this.buffer.indexOf('\n')
        this.waiting.shift()?.(JSON.parse(line) as ControlResponse)
      }
    })
    socket.on('close', () => {
      this.closedError ??= new UsageError('the node closed the control connection', EXIT.unavailable)
      for (const w of this.waiting.splice(0)) w({ ok: false, code: 'closed', error: this.closedError.message })
    })
  }

  static async connect (path: string): Promise<ControlClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return new ControlClient(await open(path))
      } catch (err) {
        // EAGAIN: the node's accept backlog is full (a busy node); worth a few more tries before giving up
        const busy = (err as NodeJS.ErrnoException).code === 'EAGAIN'
        if (!busy || attempt >= CONNECT_ATTEMPTS) throw unreachable(path, err as NodeJS.ErrnoException)
        await new Promise(resolve => setTimeout(resolve, 50 * attempt))
      }
    }
  }

  /** Sends a request; resolves with its answer. */
  request (req: ControlRequest): Promise<ControlResponse> {
    return new Promise(resolve => {
      this.waiting.push(resolve)
      this.socket.write(`${JSON.stringify(req)}\n`)
    })
  }

  /** Whether the socket buffer is full; wait for `drain()` before writing more. */
  get congested (): boolean {
    return this.socket.writableNeedDrain
  }

  drain (): Promise<void> {
    return new Promise(resolve => this.socket.once('drain', resolve))
  }

  close (): void {
    this.socket.end()
  }
}

/** Tries to connect when the node's socket is busy (EAGAIN), 50 ms more apart each time: ~5 s in all. */
const CONNECT_ATTEMPTS = 15

function open (path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path)
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

function unreachable (path: string, err: NodeJS.ErrnoException): UsageError {
  const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
    ? 'no FST node is running'
    : err.code === 'EACCES' ? 'permission denied (root or the control group only)' : err.message
  return new UsageError(`cannot reach the node at ${path}: ${why}`, EXIT.unavailable)
}

/** One request on a fresh connection. */
export async function ask (path: string, req: ControlRequest): Promise<ControlResponse> {
  const client = await ControlClient.connect(path)
  try {
    return await client.request(req)
  } finally {
    client.close()
  }
}
