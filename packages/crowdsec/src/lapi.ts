import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseAddress } from '@fst/protocol'
import type { Logger } from 'pino'
import { ConfigError, type CrowdsecConfig, HttpEndpoint, isLoopback, parseHostPort } from '@fst/node'
import { BouncerCursor } from './bouncers.js'
import type { CursorStore } from './cursor-store.js'
import { type ActiveBan, activeBans, bansCovering, type DecisionFilter, matchesFilter, toDecision, type ViewSource } from './decisions.js'
import type { CrowdsecMetrics } from './metrics.js'

/** How long one computed view of the ledger serves pulls: many bouncers polling at once share one pass. */
const VIEW_TTL_MS = 250
const MAX_KEY_LENGTH = 256
const MAX_LIST_ITEMS = 16
const MAX_ITEM_LENGTH = 128

type Key = CrowdsecConfig['lapi']['keys'][number]
type Query = { valid: true, filter: DecisionFilter } | { valid: false, error: string }

export interface DecisionsEndpointInit {
  config: CrowdsecConfig['lapi']
  view: ViewSource
  metrics: CrowdsecMetrics
  log: Logger
  /** How long one computed view of the ledger serves pulls (ms). @default 250 */
  viewTtlMs?: number
  /** Keeps what each bouncer holds across restarts; none: a restart forgets it. */
  store?: CursorStore
}

/**
 * The part of CrowdSec's Local API that bouncers use, answered from the ledger: `GET /v1/decisions/stream`
 * (stream mode: `startup=true` gives every active ban, later pulls the changes since that key's last pull) and
 * `GET /v1/decisions` (live mode: the bans covering `ip` or `range`). Keys are checked against their SHA-256.
 */
export class DecisionsEndpoint {
  private readonly http: HttpEndpoint
  private readonly keys = new Map<string, Key>()
  private readonly cursors = new Map<string, BouncerCursor>()
  private readonly views = new Map<boolean, { at: number, bans: Map<string, ActiveBan> }>()

  constructor (private readonly init: DecisionsEndpointInit) {
    const names = new Set<string>()
    for (const key of init.config.keys) {
      if (names.has(key.name)) throw new ConfigError(`crowdsec.lapi.keys: name ${JSON.stringify(key.name)} is used twice`)
      if (this.keys.has(key.sha256)) throw new ConfigError(`crowdsec.lapi.keys: ${key.name} has the same key as another bouncer`)
      names.add(key.name)
      this.keys.set(key.sha256, key)
    }
    if (init.config.listen === null) throw new ConfigError('crowdsec.lapi.listen: null means off; nothing to start')
    for (const [name, held] of init.store?.load() ?? []) {
      if (names.has(name)) this.cursors.set(name, new BouncerCursor(held))
      else init.store?.forget(name)
    }
    this.http = new HttpEndpoint(init.config.listen, 'crowdsec.lapi.listen', (req, res) => this.route(req, res), init.log)
  }

  start (): Promise<AddressInfo> {
    if (this.keys.size === 0) this.init.log.warn('crowdsec.lapi: no keys configured, every bouncer gets 403')
    const { host } = parseHostPort(this.init.config.listen!, 'crowdsec.lapi.listen')
    // keys travel in clear: beyond loopback they need a private link or a TLS proxy in front
    if (!isLoopback(host)) this.init.log.warn({ listen: this.init.config.listen }, 'crowdsec.lapi listens beyond loopback without TLS')
    return this.http.start()
  }

  stop (): Promise<void> {
    return this.http.stop()
  }

  address (): AddressInfo | null {
    return this.http.address()
  }

  /** Per bouncer: when it last pulled and how many decisions it holds (for logs and tests). */
  bouncers (): Array<{ name: string, lastPull: number, holds: number }> {
    return [...this.cursors].map(([name, c]) => ({ name, lastPull: c.lastPull, holds: c.size }))
  }

  private route (req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://lapi')
    const route = url.pathname === '/v1/decisions/stream' ? 'stream' : url.pathname === '/v1/decisions' ? 'decisions' : null
    if (route === null || (req.method !== 'GET' && req.method !== 'HEAD')) return false
    const key = this.authenticate(req)
    if (key === null) {
      this.init.metrics.lapiRequests.inc({ route, outcome: 'forbidden' })
      json(res, 403, { message: 'access forbidden' })
      return true
    }
    const query = parseQuery(url.searchParams)
    if (!query.valid) {
      this.init.metrics.lapiRequests.inc({ route, outcome: 'bad_request' })
      json(res, 400, { message: query.error })
      return true
    }
    // HEAD answers without a body and, as in LAPI, without moving the bouncer's cursor
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'application/json' }).end()
      return true
    }
    if (route === 'stream') this.stream(key, url.searchParams.get('startup') === 'true', query.filter, res)
    else if (!this.live(key, url.searchParams, query.filter, res)) return true
    this.init.metrics.lapiRequests.inc({ route, outcome: 'ok' })
    return true
  }

  private authenticate (req: IncomingMessage): Key | null {
    const header = req.headers['x-api-key']
    const given = Array.isArray(header) ? header[0] : header
    if (given === undefined || given === '') {
      this.init.metrics.lapiDenied.inc({ reason: 'missing_key' })
      return null
    }
    // a lookup by hash: timing tells at most something about a hash, never about a key
    const key = given.length <= MAX_KEY_LENGTH ? this.keys.get(createHash('sha256').update(given).digest('hex')) : undefined
    if (key === undefined) {
      this.init.metrics.lapiDenied.inc({ reason: 'bad_key' })
      return null
    }
    return key
  }

  private view (excludeLocalCrowdsec: boolean, now: number): Map<string, ActiveBan> {
    const cached = this.views.get(excludeLocalCrowdsec)
    if (cached !== undefined && now - cached.at < (this.init.viewTtlMs ?? VIEW_TTL_MS)) return cached.bans
    const bans = activeBans(this.init.view, excludeLocalCrowdsec, now)
    this.views.set(excludeLocalCrowdsec, { at: now, bans })
    return bans
  }

  private stream (key: Key, startup: boolean, filter: DecisionFilter, res: ServerResponse): void {
    const now = Date.now()
    let cursor = this.cursors.get(key.name)
    if (cursor === undefined) {
      cursor = new BouncerCursor()
      this.cursors.set(key.name, cursor)
    }
    if (startup) cursor.reset()
    const delta = cursor.pull(this.view(key.excludeLocalCrowdsec, now), filter, this.init.config.maxDecisions, now)
    this.init.store?.record(key.name, delta, startup)
    this.init.metrics.lapiDecisions.inc({ kind: 'new' }, delta.new.length)
    this.init.metrics.lapiDecisions.inc({ kind: 'deleted' }, delta.deleted.length)
    this.init.metrics.lapiPending.set(delta.pending)
    if (delta.new.length + delta.deleted.length > 0) {
      this.init.log.debug({ bouncer: key.name, startup, new: delta.new.length, deleted: delta.deleted.length, pending: delta.pending }, 'decisions pulled')
    }
    // LAPI writes null for an empty list; every bouncer reads both
    json(res, 200, {
      new: delta.new.length === 0 ? null : delta.new.map(b => toDecision(b, now)),
      deleted: delta.deleted.length === 0 ? null : delta.deleted.map(b => ({ ...toDecision(b, now), duration: '0s' }))
    })
  }

  /** Live mode; false when the request was answered with an error. */
  private live (key: Key, params: URLSearchParams, filter: DecisionFilter, res: ServerResponse): boolean {
    const now = Date.now()
    const type = params.get('type')
    const bans = [...this.view(key.excludeLocalCrowdsec, now).values()].filter(b => matchesFilter(b, filter))
    let found: ActiveBan[]
    const target = params.get('ip') ?? params.get('range')
    const value = params.get('value')
    if (target !== null) {
      const parsed = parseAddress(target)
      if (!parsed.valid) {
        this.init.metrics.lapiRequests.inc({ route: 'decisions', outcome: 'bad_request' })
        json(res, 400, { message: 'ip or range: not an IPv4 or IPv6 address or CIDR' })
        return false
      }
      found = bansCovering(bans, parsed.value, params.get('contains') !== 'false')
    } else if (value !== null) {
      const parsed = parseAddress(value)
      found = parsed.valid ? bans.filter(b => b.value === parsed.value.text) : []
    } else {
      found = bans
    }
    if (type !== null && type !== 'ban') found = []
    const decisions = found.slice(0, this.init.config.maxDecisions).map(b => toDecision(b, now))
    json(res, 200, decisions.length === 0 ? null : decisions)
    return true
  }
}

function json (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body))
}

function list (params: URLSearchParams, name: string): string[] | null | 'bad' {
  const raw = params.get(name)
  if (raw === null || raw === '') return null
  const items = raw.split(',').map(s => s.trim()).filter(s => s !== '')
  if (items.length > MAX_LIST_ITEMS || items.some(s => s.length > MAX_ITEM_LENGTH)) return 'bad'
  return items
}

/** CrowdSec's filters, bounded: at most 16 comma-separated items of at most 128 characters each. */
export function parseQuery (params: URLSearchParams): Query {
  const scopes = list(params, 'scopes')
  const origins = list(params, 'origins')
  const containing = list(params, 'scenarios_containing')
  const notContaining = list(params, 'scenarios_not_containing')
  // `scope` (singular) is live mode's filter; `scopes` the stream's
  const scope = list(params, 'scope')
  for (const [name, v] of [['scopes', scopes], ['origins', origins], ['scenarios_containing', containing], ['scenarios_not_containing', notContaining], ['scope', scope]] as const) {
    if (v === 'bad') return { valid: false, error: `${name}: at most ${MAX_LIST_ITEMS} items of at most ${MAX_ITEM_LENGTH} characters` }
  }
  const scopeSet = scopes ?? scope
  return {
    valid: true,
    filter: {
      scopes: scopeSet === null ? null : new Set((scopeSet as string[]).map(s => s.toLowerCase())),
      origins: origins === null ? null : new Set((origins as string[]).map(s => s.toLowerCase())),
      scenariosContaining: (containing as string[] | null) ?? [],
      scenariosNotContaining: (notContaining as string[] | null) ?? []
    }
  }
}
