import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { ConfigError, errnoText } from '../errors.js'

/** `127.0.0.1:9464`, `[::1]:9464` → host and port; a bad value is a ConfigError naming the key. */
export function parseHostPort (text: string, key: string): { host: string, port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  const port = Number(m?.[3])
  if (m === null || port > 65535) throw new ConfigError(`${key}: expected host:port or [v6]:port (got ${JSON.stringify(text)})`)
  return { host: m[1] ?? m[2]!, port }
}

/** True for addresses only this machine can reach. */
export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** A handler answers a request, or returns false to let the server answer 404. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>

/**
 * A small HTTP server: binds where asked, answers 404 for what no handler takes, and `close()` ends open
 * sockets (long-lived event streams included) instead of waiting for clients to leave.
 */
export class HttpEndpoint {
  private server: Server | null = null

  constructor (private readonly listen: string, private readonly key: string, private readonly handle: RouteHandler, private readonly log: Logger) {}

  async start (): Promise<AddressInfo> {
    const { host, port } = parseHostPort(this.listen, this.key)
    const server = createServer((req, res) => {
      Promise.resolve(this.handle(req, res)).then(done => {
        if (!done) res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n')
      }, (err: unknown) => {
        this.log.error({ err: (err as Error).message, path: req.url }, 'http handler failed')
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        res.end('internal error\n')
      })
    })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', err => reject(new ConfigError(`${this.key}: ${this.listen}: ${errnoText(err)}`)))
      server.listen(port, host, () => { server.removeAllListeners('error'); resolve() })
    })
    const address = server.address() as AddressInfo
    this.log.info({ address: address.address, port: address.port }, 'http endpoint listening')
    return address
  }

  address (): AddressInfo | null {
    return (this.server?.address() as AddressInfo | null) ?? null
  }

  async stop (): Promise<void> {
    const server = this.server
    this.server = null
    if (server === null) return
    const closed = new Promise<void>(resolve => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }
}

/** Serves a registry's text exposition at GET /metrics; `refresh` updates sampled gauges first. */
export function metricsRoute (registry: Registry, refresh: () => void = () => {}): RouteHandler {
  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return false
    refresh()
    const body = await registry.metrics()
    res.writeHead(200, { 'content-type': registry.contentType })
    res.end(req.method === 'HEAD' ? undefined : body)
    return true
  }
}

/**
 * Probes for supervisors and load balancers: GET /healthz answers 200 while the process serves HTTP (live);
 * GET /readyz answers 200 when `problems()` is empty, else 503 with one problem per line (ready).
 */
export function healthRoute (problems: () => string[]): RouteHandler {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if ((path !== '/healthz' && path !== '/readyz') || (req.method !== 'GET' && req.method !== 'HEAD')) return false
    const found = path === '/healthz' ? [] : problems()
    res.writeHead(found.length === 0 ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : found.length === 0 ? 'ok\n' : `${found.join('\n')}\n`)
    return true
  }
}

/** Tries each handler in turn; the first that takes the request answers it. */
export function routes (...handlers: RouteHandler[]): RouteHandler {
  return async (req, res) => {
    for (const handle of handlers) if (await handle(req, res)) return true
    return false
  }
}
