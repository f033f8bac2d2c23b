import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RouteHandler } from '@fst/node'
import type { Registry } from 'prom-client'

/** Static dashboard files, served from the package (no CDN: servers are often offline). */
const ASSETS: Record<string, { file: string, type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/format.js': { file: 'format.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' }
}

/** Only our own files; data reaches the page as JSON and is written with textContent. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store'
}

/** How often an idle event stream gets a comment line, so proxies and browsers keep it open. */
const KEEPALIVE_MS = 15_000
/** Open dashboards at once; a few admins need a handful, more is a leak or abuse. */
export const MAX_STREAMS = 64

/** Open server-sent-event streams; `broadcast` writes one `data:` frame to each. */
export class EventStreams {
  private readonly clients = new Set<ServerResponse>()
  private keepalive: NodeJS.Timeout | null = null

  constructor (private readonly max = MAX_STREAMS) {}

  get size (): number {
    return this.clients.size
  }

  /** Starts a stream with `first` as its first frame; false (503 sent) when too many are open. */
  open (res: ServerResponse, first: unknown): boolean {
    if (this.clients.size >= this.max) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '30' }).end('too many open dashboards\n')
      return false
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' })
    res.write(`retry: 2000\ndata: ${JSON.stringify(first)}\n\n`)
    this.clients.add(res)
    res.on('close', () => this.clients.delete(res))
    this.keepalive ??= setInterval(() => { for (const c of this.clients) c.write(': keepalive\n\n') }, KEEPALIVE_MS)
    this.keepalive.unref()
    return true
  }

  broadcast (data: unknown): void {
    if (this.clients.size === 0) return
    const frame = `data: ${JSON.stringify(data)}\n\n`
    for (const c of this.clients) c.write(frame)
  }

  close (): void {
    if (this.keepalive !== null) clearInterval(this.keepalive)
    this.keepalive = null
    for (const c of this.clients) c.end()
    this.clients.clear()
  }
}

export interface DashboardRoutesInit {
  registry: Registry
  /** Serve the dashboard and its stream (else /metrics only). */
  dashboard: boolean
  /** Required secret, or null for none. */
  token: string | null
  snapshot: () => unknown
  streams: EventStreams
  /** The search (`/api/address?ip=`): an address's history, or null when `ip` is not an address. */
  address?: (ip: string) => unknown
  /** Folder of the static files. */
  assetsDir: URL
}

/** Routes of the metrics service: /metrics, and with the dashboard on: /, its assets, /api/summary, /events. */
export function dashboardRoutes (init: DashboardRoutesInit): RouteHandler {
  const files = new Map(Object.entries(ASSETS).map(([path, a]) => [path, { body: readFileSync(new URL(a.file, init.assetsDir)), type: a.type }]))
  const authorized = init.token === null ? () => true : checker(init.token)
  return async (req, res) => {
    if (!authorized(req)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fst-metrics", charset="UTF-8"', 'content-type': 'text/plain; charset=utf-8' })
      res.end('authentication required\n')
      return true
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    if (path === '/metrics') {
      const body = await init.registry.metrics()
      res.writeHead(200, { 'content-type': init.registry.contentType, 'cache-control': 'no-store' })
      res.end(req.method === 'HEAD' ? undefined : body)
      return true
    }
    if (!init.dashboard) return false
    if (path === '/events') {
      init.streams.open(res, init.snapshot())
      return true
    }
    if (path === '/api/summary') return sendJson(res, init.snapshot())
    if (path === '/api/address' && init.address !== undefined) {
      const ip = new URL(req.url ?? '/', 'http://x').searchParams.get('ip') ?? ''
      const found = ip.length > 64 ? null : init.address(ip)
      if (found === null) {
        res.writeHead(400, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: 'ip: not an IPv4 or IPv6 address or CIDR' }))
        return true
      }
      return sendJson(res, found)
    }
    const file = files.get(path)
    if (file === undefined) return false
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': file.type })
    res.end(req.method === 'HEAD' ? undefined : file.body)
    return true
  }
}

function sendJson (res: ServerResponse, data: unknown): boolean {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(data))
  return true
}

/**
 * Accepts `Authorization: Bearer <token>` (Prometheus `authorization:`) or basic auth with the token as
 * password and any user name (browsers prompt for it, and EventSource then sends it too).
 */
function checker (token: string): (req: IncomingMessage) => boolean {
  const want = digest(token)
  return req => {
    const header = req.headers.authorization ?? ''
    const space = header.indexOf(' ')
    if (space === -1) return false
    const scheme = header.slice(0, space).toLowerCase()
    const value = header.slice(space + 1).trim()
    let secret: string | null = null
    if (scheme === 'bearer') secret = value
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      secret = colon === -1 ? null : decoded.slice(colon + 1)
    }
    return secret !== null && timingSafeEqual(digest(secret), want)
  }
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}
