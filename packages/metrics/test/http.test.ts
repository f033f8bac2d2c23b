import { request } from 'node:http'
import { createLogger, HttpEndpoint, loadConfig } from '@fst/node'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Aggregator } from '../src/aggregator.js'
import { dashboardRoutes, EventStreams } from '../src/http.js'
import { MetricsService } from '../src/run.js'

const log = createLogger('silent')
const TOKEN = 'correct-horse-battery-staple'

/** The HTTP side alone, on an ephemeral loopback port. */
async function serve (token: string | null, dashboard = true, maxStreams = 8) {
  const registry = new Registry()
  const streams = new EventStreams(maxStreams)
  const agg = new Aggregator()
  const endpoint = new HttpEndpoint('127.0.0.1:0', 'metrics.listen', dashboardRoutes({
    registry, dashboard, token, streams, snapshot: () => agg.summary(), assetsDir: new URL('../public/', import.meta.url)
  }), log)
  const { port } = await endpoint.start()
  return { endpoint, streams, base: `http://127.0.0.1:${port}` }
}

describe('metrics service HTTP', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0)) await c() })

  it('requires the token as bearer or basic-auth password when one is set', async () => {
    const { endpoint, streams, base } = await serve(TOKEN)
    cleanup.push(async () => { streams.close(); await endpoint.stop() })
    expect((await fetch(`${base}/metrics`)).status).toBe(401)
    expect((await fetch(`${base}/`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401)
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200)
    const basic = Buffer.from(`admin:${TOKEN}`).toString('base64')
    const page = await fetch(`${base}/`, { headers: { authorization: `Basic ${basic}` } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
  })

  it('serves only /metrics when the dashboard is off, 404 elsewhere', async () => {
    const { endpoint, streams, base } = await serve(null, false)
    cleanup.push(async () => { streams.close(); await endpoint.stop() })
    expect((await fetch(`${base}/metrics`)).status).toBe(200)
    expect((await fetch(`${base}/`)).status).toBe(404)
    expect((await fetch(`${base}/events`)).status).toBe(404)
  })

  it('close() ends open event streams instead of waiting for the clients', async () => {
    const { endpoint, streams, base } = await serve(null)
    const ended = new Promise<string>(resolve => {
      request(`${base}/events`, res => {
        let body = ''
        res.on('data', (d: Buffer) => { body += d.toString() })
        // the server cuts the stream: 'close' (with an 'aborted' error) rather than a clean 'end'
        res.on('error', () => {})
        res.on('close', () => resolve(body))
      }).on('error', () => resolve('')).end()
    })
    await vi.waitFor(() => expect(streams.size).toBe(1))
    await endpoint.stop()
    const body = await ended
    expect(body).toMatch(/^retry: 2000\ndata: \{"now":/)
    await vi.waitFor(() => expect(streams.size).toBe(0))
    streams.close()
  })

  it('caps the number of open event streams (503 beyond)', async () => {
    const { endpoint, streams, base } = await serve(null, true, 2)
    const aborts = [new AbortController(), new AbortController()]
    cleanup.push(async () => { for (const a of aborts) a.abort(); streams.close(); await endpoint.stop() })
    for (const a of aborts) expect((await fetch(`${base}/events`, { signal: a.signal })).status).toBe(200)
    expect(streams.size).toBe(2)
    const third = await fetch(`${base}/events`)
    expect(third.status).toBe(503)
    expect(third.headers.get('retry-after')).toBe('30')
  })

  it('refuses to listen beyond loopback without a token', () => {
    const config = loadConfig(null)
    expect(() => new MetricsService({ ...config, metrics: { ...config.metrics, listen: '0.0.0.0:9464' } }, log))
      .toThrow(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => new MetricsService({ ...config, metrics: { listen: '[::]:9464', dashboard: true, geoip: true, token: TOKEN } }, log)).not.toThrow()
  })
})
