import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCrowdsecMetrics, DecisionsEndpoint, formatDuration, parseDuration } from '@fst/crowdsec'
import { defaultCrowdsecConfig, loadConfig } from '@fst/node'
import type { LedgerEntry } from '@fst/protocol'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const KEY = 'a-bouncer-key-for-the-unit-test'
const OTHER = 'a-second-bouncer-key-for-the-test'
const sha = (k: string) => createHash('sha256').update(k).digest('hex')
const entry = (ip: string, over: Partial<LedgerEntry> = {}): LedgerEntry => ({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip, time: Date.now(), duration: 3600, origin: 'peerA', ...over })

describe('crowdsec config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-cs-config-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const load = (doc: string) => {
    const file = join(dir, 'config.yml')
    writeFileSync(file, doc)
    return () => loadConfig(file)
  }

  it('is off by default, resolves the key file next to the config and names the field of a mistake', () => {
    expect(load('{}')().crowdsec).toEqual(defaultCrowdsecConfig)
    expect(load('crowdsec: { source: { url: "http://127.0.0.1:8080/", apiKeyFile: cs.key } }')().crowdsec.source.apiKeyFile).toBe(join(dir, 'cs.key'))
    expect(load('crowdsec: { lapi: { keys: [{ name: fw, sha256: not-a-hash }] } }')).toThrow(/crowdsec\.lapi\.keys\.0\.sha256: sha256 must be 64 lowercase hex digits/)
    expect(load('crowdsec: { source: { url: "file:///etc/passwd" } }')).toThrow(/crowdsec\.source\.url/)
    expect(load('crowdsec: { lapi: { listen: 127.0.0.1:8081, token: x } }')).toThrow(/unknown key crowdsec\.lapi\.token/)
  })
})

describe('Go durations', () => {
  it('formats like time.Duration.String() and parses what LAPI writes', () => {
    expect(formatDuration(0)).toBe('0s')
    expect(formatDuration(250)).toBe('250ms')
    expect(formatDuration(30_500)).toBe('30.5s')
    expect(formatDuration(3_570_000)).toBe('59m30s')
    expect(formatDuration(14_370_000)).toBe('3h59m30s')
    expect(parseDuration('59m59.690681972s')).toBeCloseTo(3_599_690.68, 1)
    expect(parseDuration('-17.608874ms')).toBeCloseTo(-17.61, 1)
    expect(parseDuration('4h')).toBe(14_400_000)
    for (const bad of ['', '4', 'h', '1x', '1h1', 'x'.repeat(65), 42, null]) expect(parseDuration(bad)).toBeNull()
  })
})

/**
 * The endpoint in-process, on a ledger stand-in: what a bouncer sees across pulls (the firewall bouncer test
 * runs the real one against a real node).
 */
describe('decisions endpoint', () => {
  const entries: LedgerEntry[] = []
  let endpoint: DecisionsEndpoint
  let base: string
  const get = async (path: string, key: string | null = KEY) => {
    const res = await fetch(`${base}${path}`, { headers: key === null ? {} : { 'X-Api-Key': key } })
    return { status: res.status, body: await res.json() as unknown }
  }
  type Stream = { new: Array<Record<string, unknown>> | null, deleted: Array<Record<string, unknown>> | null }

  beforeAll(async () => {
    endpoint = new DecisionsEndpoint({
      config: { ...defaultCrowdsecConfig.lapi, listen: '127.0.0.1:0', maxDecisions: 3, keys: [{ name: 'one', sha256: sha(KEY), excludeLocalCrowdsec: false }, { name: 'two', sha256: sha(OTHER), excludeLocalCrowdsec: true }] },
      view: { entries: () => entries, actions: ['ban'], fromLocalCrowdsec: e => e.origin === 'self' && e.name === 'crowdsec' },
      metrics: createCrowdsecMetrics(new Registry()),
      log: pino({ level: 'silent' }),
      // every pull sees the ledger as it is (the node shares one view for 250 ms)
      viewTtlMs: 0
    })
    const addr = await endpoint.start()
    base = `http://127.0.0.1:${addr.port}`
  })
  afterAll(async () => { await endpoint?.stop() })

  it('gives everything on startup, then only changes, cut at maxDecisions with the rest on the next pull', async () => {
    entries.push(entry('192.0.2.1'), entry('192.0.2.2'), entry('198.51.100.0/24', { name: 'nginx' }), entry('2001:db8::1', { duration: 0 }), entry('192.0.2.9', { action: 'nullroute' }))
    const first = (await get('/v1/decisions/stream?startup=true')).body as Stream
    expect(first.new).toHaveLength(3)
    expect(first.deleted).toBeNull()
    const second = (await get('/v1/decisions/stream')).body as Stream
    expect(second.new?.map(d => d.value)).toEqual(['2001:db8::1'])
    expect((await get('/v1/decisions/stream')).body).toEqual({ new: null, deleted: null })
    const range = first.new!.find(d => d.value === '198.51.100.0/24')!
    expect(range).toMatchObject({ origin: 'fst', scenario: 'nginx', scope: 'Range', type: 'ban' })
    expect(typeof range.id).toBe('number')
    expect(parseDuration(range.duration)).toBeGreaterThan(3_590_000)
    // a permanent ban: the longest FST allows
    expect(parseDuration(second.new![0]!.duration)).toBeGreaterThan(300 * 24 * 3_600_000)
  })

  it('sends a removal once no ban covers the value any more, and one decision per value', async () => {
    entries.push(entry('192.0.2.1', { name: 'nginx', duration: 7200 }))
    const longer = (await get('/v1/decisions/stream')).body as Stream
    expect(longer.new).toMatchObject([{ value: '192.0.2.1', scenario: 'nginx' }])
    entries.splice(entries.findIndex(e => e.ip === '192.0.2.1' && e.name === 'nginx'), 1)
    entries.push(entry('192.0.2.1', { name: 'nginx', action: 'unban', duration: 0 }))
    const after = (await get('/v1/decisions/stream')).body as Stream
    // sshd still bans it for an hour: a shorter decision, not a deletion
    expect(after.deleted).toBeNull()
    expect(after.new).toMatchObject([{ value: '192.0.2.1', scenario: 'sshd' }])
    entries.splice(entries.findIndex(e => e.ip === '192.0.2.1' && e.name === 'sshd'), 1)
    const gone = (await get('/v1/decisions/stream')).body as Stream
    expect(gone).toMatchObject({ new: null, deleted: [{ value: '192.0.2.1', scope: 'Ip', type: 'ban' }] })
    expect((await get('/v1/decisions/stream')).body).toEqual({ new: null, deleted: null })
  })

  it('keeps one cursor per key, filters scopes and leaves out local CrowdSec bans for keys that feed one', async () => {
    entries.push(entry('203.0.113.5', { origin: 'self', name: 'crowdsec' }))
    const two = (await get('/v1/decisions/stream?startup=true&scopes=ip', OTHER)).body as Stream
    expect(two.new?.map(d => d.value).sort()).toEqual(['192.0.2.2', '2001:db8::1'])
    const live = (await get('/v1/decisions?ip=198.51.100.7')).body as Array<Record<string, unknown>>
    expect(live.map(d => d.value)).toEqual(['198.51.100.0/24'])
    expect((await get('/v1/decisions?ip=203.0.113.5', OTHER)).body).toBeNull()
    expect((await get('/v1/decisions?ip=203.0.113.5')).body).toMatchObject([{ value: '203.0.113.5' }])
  })

  it('refuses a missing or wrong key with 403 and bounds its filters', async () => {
    expect((await get('/v1/decisions/stream', null)).status).toBe(403)
    expect((await get('/v1/decisions/stream', 'wrong')).status).toBe(403)
    expect((await get('/v1/decisions/stream', 'x'.repeat(10_000))).status).toBe(403)
    expect((await get(`/v1/decisions/stream?scopes=${Array(17).fill('ip').join(',')}`)).status).toBe(400)
    expect((await get('/v1/decisions?ip=999.1.1.1')).status).toBe(400)
    expect((await fetch(`${base}/v1/alerts`, { headers: { 'X-Api-Key': KEY } })).status).toBe(404)
  })
})

describe('decisions endpoint at 100,000 active bans', () => {
  const entries: LedgerEntry[] = []
  let endpoint: DecisionsEndpoint

  afterAll(async () => { await endpoint?.stop() })

  it('answers a startup pull and an empty delta pull in bounded time', async () => {
    const now = Date.now()
    for (let i = 0; i < 100_000; i++) entries.push(entry(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, { time: now, duration: 3600 }))
    endpoint = new DecisionsEndpoint({
      config: { ...defaultCrowdsecConfig.lapi, listen: '127.0.0.1:0', keys: [{ name: 'one', sha256: sha(KEY), excludeLocalCrowdsec: false }] },
      view: { entries: () => entries, actions: ['ban'], fromLocalCrowdsec: () => false },
      metrics: createCrowdsecMetrics(new Registry()),
      log: pino({ level: 'silent' }),
      viewTtlMs: 0
    })
    const { port } = await endpoint.start()
    const pull = async (startup: boolean) => {
      const t0 = performance.now()
      const res = await fetch(`http://127.0.0.1:${port}/v1/decisions/stream?startup=${startup}`, { headers: { 'X-Api-Key': KEY } })
      const text = await res.text()
      return { ms: performance.now() - t0, bytes: text.length, body: JSON.parse(text) as { new: unknown[] | null } }
    }
    const first = await pull(true)
    expect(first.body.new).toHaveLength(100_000)
    const delta = await pull(false)
    expect(delta.body.new).toBeNull()
    entries.push(entry('192.0.2.200'))
    const one = await pull(false)
    expect(one.body.new).toHaveLength(1)
    console.log(`crowdsec lapi: 100,000 active bans: startup pull ${Math.round(first.ms)} ms (${(first.bytes / 1e6).toFixed(1)} MB), empty delta pull ${Math.round(delta.ms)} ms, one-change pull ${Math.round(one.ms)} ms`)
    expect(delta.ms).toBeLessThan(5000)
  })
})
