import { createConnection, type Socket } from 'node:net'
import type { ControlRequest, ControlResponse } from '@fst/protocol'
import { EXIT, NodeUnavailableError, UsageError } from './errors.js'

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
      this.closedError ??= new NodeUnavailableError('the node closed the control connection (stopping?)', 'closed')
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

  /** Drops the connection at once (a node that does not answer). */
  destroy (): void {
    this.socket.destroy()
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

/** Why a connect failed, as the hook and `fst ban`/`publish` need it: only a refusal to us is not spooled. */
export function unreachable (path: string, err: NodeJS.ErrnoException): UsageError {
  // no socket, or a socket file no node listens on: the node is down (or starting)
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') return new NodeUnavailableError(`cannot reach the node at ${path}: no FST node is running`, 'not_running')
  if (err.code === 'EACCES' || err.code === 'EPERM') return new UsageError(`cannot reach the node at ${path}: permission denied (root or the control group only)`, EXIT.unavailable)
  // still busy after the retries: the report waits in the spool, which the node watches
  if (err.code === 'EAGAIN') return new NodeUnavailableError(`cannot reach the node at ${path}: too busy to accept a connection for ${CONNECT_ATTEMPTS} tries`, 'timeout')
  // ECONNRESET, EPIPE and the like: the node died or stopped while we connected
  return new NodeUnavailableError(`cannot reach the node at ${path}: ${err.message}`, 'closed')
}

/**
 * One request on a fresh connection. With `timeoutMs`, a node that has not answered by then counts as
 * unavailable (NodeUnavailableError 'timeout'); a connection the node closes before answering, as 'closed'.
 */
export async function ask (path: string, req: ControlRequest, timeoutMs?: number): Promise<ControlResponse> {
  let timer: NodeJS.Timeout | undefined
  let client: ControlClient | undefined
  const exchange = (async () => {
    client = await ControlClient.connect(path)
    try {
      const answer = await client.request(req)
      if (!answer.ok && answer.code === 'closed') throw new NodeUnavailableError(answer.error, 'closed')
      return answer
    } finally {
      client.close()
    }
  })()
  if (timeoutMs === undefined) return exchange
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      client?.destroy()
      reject(new NodeUnavailableError(`the node at ${path} did not answer within ${timeoutMs} ms`, 'timeout'))
    }, timeoutMs)
  })
  exchange.catch(() => {})
  try {
    return await Promise.race([exchange, late])
  } finally {
    clearTimeout(timer)
  }
}
