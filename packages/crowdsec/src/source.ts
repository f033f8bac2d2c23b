import { readFileSync } from 'node:fs'
import { type ControlResponse, MAX_DURATION_S, parseAddress } from '@fst/protocol'
import type { Logger } from 'pino'
import { ConfigError, type CrowdsecConfig, LogThrottle } from '@fst/node'
import { isActive, type LedgerEntry } from '@fst/protocol'
import { parseDuration } from './duration.js'
import type { CrowdsecMetrics } from './metrics.js'

const REQUEST_TIMEOUT_MS = 10_000
/** Publications awaited together: the ledger commits them in one flush. */
const PUBLISH_CHUNK = 256

export interface SourceInit {
  config: CrowdsecConfig['source']
  /** The node's hook path: validation, never-ban list, ledger, mesh. */
  publish: (input: Record<string, unknown>) => Promise<ControlResponse>
  entries: () => Iterable<LedgerEntry>
  /** Whether the ledger's active ban of this source's name for a value is this node's own. */
  ownBan: (value: string) => boolean
  metrics: CrowdsecMetrics
  log: Logger
}

type Outcome = 'published' | 'unbanned' | 'known' | 'from_fst' | 'other_origin' | 'unsupported' | 'invalid' | 'refused' | 'truncated'

/**
 * Polls a local CrowdSec LAPI as a bouncer would (`/v1/decisions/stream`, its own key) and publishes each new
 * ban to the mesh once. No echo: decisions FST itself put into CrowdSec (scenario prefix) and addresses the
 * ledger already bans are not published again; a CrowdSec removal unbans only what this source published.
 */
export class CrowdsecSource {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private readonly abort = new AbortController()
  private startup = true
  private stopped = false
  private readonly apiKey: string
  private readonly url: URL
  /** CrowdSec decision IDs held per value: a removal unbans only when none is left. */
  private readonly held = new Map<string, Set<string>>()
  private readonly origins: Set<string>
  /** A CrowdSec that is down fills one line per reason and minute, not one per poll. */
  private readonly throttle: LogThrottle

  constructor (private readonly init: SourceInit) {
    const { config } = init
    if (config.url === null) throw new ConfigError('crowdsec.source.url: null means off; nothing to start')
    if (config.apiKeyFile === null) throw new ConfigError('crowdsec.source.apiKeyFile: required when crowdsec.source.url is set')
    let key: string
    try {
      key = readFileSync(config.apiKeyFile, 'utf8').trim()
    } catch (err) {
      throw new ConfigError(`crowdsec.source.apiKeyFile: cannot read ${config.apiKeyFile}: ${(err as Error).message}`)
    }
    if (!/^[\x21-\x7e]{1,256}$/.test(key)) throw new ConfigError(`crowdsec.source.apiKeyFile: ${config.apiKeyFile} must hold one key of 1-256 printable characters`)
    this.apiKey = key
    this.url = new URL('v1/decisions/stream', config.url.endsWith('/') ? config.url : `${config.url}/`)
    this.origins = new Set(config.origins.map(o => o.toLowerCase()))
    this.throttle = new LogThrottle(init.log, 1, 60_000)
  }

  start (): void {
    this.schedule(0)
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.abort.abort()
    await this.running
  }

  private schedule (ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.poll().finally(() => {
        this.running = null
        this.schedule(this.init.config.intervalS * 1000)
      })
    }, ms)
  }

  /** One poll; never throws (a failure is counted and logged, the next poll retries). */
  async poll (): Promise<void> {
    const { metrics, log } = this.init
    const warn = (reason: string, fields: Record<string, unknown>, message: string) => this.throttle.warn(reason, fields, message)
    const url = new URL(this.url)
    url.searchParams.set('startup', String(this.startup))
    url.searchParams.set('scopes', 'ip,range')
    let body: unknown
    try {
      const res = await fetch(url, {
        headers: { 'X-Api-Key': this.apiKey, 'User-Agent': 'fst-crowdsec-source' },
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
      })
      if (res.status !== 200) {
        await res.body?.cancel()
        metrics.sourcePolls.inc({ outcome: 'http_error' })
        warn('http_error', { status: res.status }, 'crowdsec LAPI answered with an error')
        return
      }
      const text = await readBounded(res, this.init.config.maxBodyBytes)
      if (text === null) {
        metrics.sourcePolls.inc({ outcome: 'bad_answer' })
        warn('too_large', { maxBodyBytes: this.init.config.maxBodyBytes }, 'crowdsec LAPI answer too large')
        return
      }
      body = JSON.parse(text)
    } catch (err) {
      if (this.stopped) return
      const bad = err instanceof SyntaxError
      metrics.sourcePolls.inc({ outcome: bad ? 'bad_answer' : 'unreachable' })
      warn(bad ? 'bad_answer' : 'unreachable', { err: (err as Error).message }, bad ? 'crowdsec LAPI answer is not JSON' : 'crowdsec LAPI unreachable')
      return
    }
    const stream = streamOf(body)
    if (stream === null) {
      metrics.sourcePolls.inc({ outcome: 'bad_answer' })
      warn('bad_answer', {}, 'crowdsec LAPI answer is not a decisions stream')
      return
    }
    metrics.sourcePolls.inc({ outcome: 'ok' })
    // the cursor moves on the LAPI side once it answered: from now on only the changes
    this.startup = false
    const counts: Partial<Record<Outcome, number>> = {}
    const count = (o: Outcome, n = 1) => { counts[o] = (counts[o] ?? 0) + n; metrics.sourceDecisions.inc({ outcome: o }, n) }
    await this.removals(stream.deleted, count)
    await this.additions(stream.new, count)
    if (counts.published !== undefined || counts.unbanned !== undefined || counts.refused !== undefined || counts.truncated !== undefined) {
      log.info({ ...counts }, 'crowdsec decisions taken')
    }
  }

  /** Validates one decision (without its duration); the reason when it is not for FST. */
  private check (d: unknown): { id: string, value: string } | Outcome {
    if (typeof d !== 'object' || d === null) return 'invalid'
    const { id, type, scope, value, origin, scenario } = d as Record<string, unknown>
    if (typeof type !== 'string' || typeof scope !== 'string' || typeof value !== 'string' || typeof origin !== 'string') return 'invalid'
    if (type.toLowerCase() !== 'ban') return 'unsupported'
    const s = scope.toLowerCase()
    if (s !== 'ip' && s !== 'range') return 'unsupported'
    if (!this.origins.has(origin.toLowerCase())) return 'other_origin'
    if (typeof scenario === 'string' && scenario.startsWith(this.init.config.fstScenarioPrefix)) return 'from_fst'
    const address = parseAddress(value)
    if (!address.valid) return 'invalid'
    const idText = typeof id === 'number' || typeof id === 'string' ? String(id).slice(0, 32) : address.value.text
    return { id: idText, value: address.value.text }
  }

  private async additions (decisions: unknown[], count: (o: Outcome, n?: number) => void): Promise<void> {
    const { config } = this.init
    if (decisions.length > config.maxDecisions) count('truncated', decisions.length - config.maxDecisions)
    const banned = decisions.length === 0 ? new Set<string>() : this.bannedNow()
    const toPublish: Array<{ value: string, durationS: number }> = []
    for (const d of decisions.slice(0, config.maxDecisions)) {
      const t = this.check(d)
      if (typeof t === 'string') { count(t); continue }
      const ms = parseDuration((d as Record<string, unknown>).duration)
      // an expired decision (nothing left) is no ban any more; 0 would mean permanent to FST
      if (ms === null || ms < 1000) { count('invalid'); continue }
      if (banned.has(t.value)) {
        // a second decision for a value this source banned must also go before the unban
        if (this.held.has(t.value) || this.init.ownBan(t.value)) this.hold(t.value, t.id)
        count('known')
        continue
      }
      banned.add(t.value)
      this.hold(t.value, t.id)
      toPublish.push({ value: t.value, durationS: Math.min(MAX_DURATION_S, Math.ceil(ms / 1000)) })
    }
    for (let i = 0; i < toPublish.length; i += PUBLISH_CHUNK) {
      const chunk = toPublish.slice(i, i + PUBLISH_CHUNK)
      const answers = await Promise.all(chunk.map(t => this.init.publish({
        action: 'ban', name: config.name, protocol: config.protocol, port: config.port, ip: t.value, duration: t.durationS
      })))
      answers.forEach((a, k) => {
        count(!a.ok ? 'refused' : a.published ? 'published' : 'known')
        if (!a.ok) this.held.delete(chunk[k]!.value)
      })
    }
  }

  /**
   * Removed or expired decisions: unban what this source published once CrowdSec holds no other decision for
   * the value. The node's unban changes nothing when FST's own ban expired already or was never published here.
   */
  private async removals (decisions: unknown[], count: (o: Outcome, n?: number) => void): Promise<void> {
    const { config } = this.init
    for (const d of decisions.slice(0, config.maxDecisions)) {
      const t = this.check(d)
      if (typeof t === 'string') continue
      const ids = this.held.get(t.value)
      ids?.delete(t.id)
      if (ids !== undefined && ids.size > 0) continue
      this.held.delete(t.value)
      // only this node's own ban: another node's CrowdSec may still ban the address
      if (!this.init.ownBan(t.value)) continue
      const answer = await this.init.publish({ action: 'unban', name: config.name, protocol: config.protocol, port: config.port, ip: t.value })
      if (answer.ok && answer.published) count('unbanned')
    }
  }

  /** Remembers a CrowdSec decision ID for a value this source banned (bounded like an answer). */
  private hold (value: string, id: string): void {
    let ids = this.held.get(value)
    if (ids === undefined) {
      if (this.held.size >= this.init.config.maxDecisions) this.held.delete(this.held.keys().next().value!)
      ids = new Set()
      this.held.set(value, ids)
    }
    if (ids.size < 64) ids.add(id)
  }

  /** Addresses the ledger bans now, whatever the jail or origin: those need no second ban. */
  private bannedNow (): Set<string> {
    const out = new Set<string>()
    const now = Date.now()
    for (const e of this.init.entries()) if (isActive(e, now)) out.add(e.ip)
    return out
  }
}

function streamOf (body: unknown): { new: unknown[], deleted: unknown[] } | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null
  const { new: added, deleted } = body as Record<string, unknown>
  const asList = (v: unknown) => (v === null || v === undefined ? [] : Array.isArray(v) ? v : null)
  const a = asList(added)
  const d = asList(deleted)
  return a === null || d === null ? null : { new: a, deleted: d }
}

/** The body as text, or null once it passes `max` bytes (the rest is not read). */
async function readBounded (res: Response, max: number): Promise<string | null> {
  if (res.body === null) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > max) {
      await res.body.cancel().catch(() => {})
      return null
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
