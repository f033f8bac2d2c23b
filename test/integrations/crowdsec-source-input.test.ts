import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCrowdsecMetrics, CrowdsecSource } from '@fst/crowdsec'
import { defaultCrowdsecConfig } from '@fst/node'
import type { LedgerEntry } from '@fst/protocol'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const decision = (over: Record<string, unknown>) => ({ id: 1, duration: '59m59.5s', origin: 'crowdsec', scenario: 'crowdsecurity/ssh-bf', scope: 'Ip', type: 'ban', value: '192.0.2.1', ...over })

/**
 * The LAPI's answer is untrusted input: a hostile or broken server on loopback answers what no CrowdSec
 * would, and the source publishes only well-formed bans of the configured origins, bounded in size and count.
 */
describe('CrowdSec source input checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-cs-input-'))
  let server: Server
  let answer: { status: number, body: string } = { status: 200, body: '{"new":null,"deleted":null}' }
  const requests: Array<{ url: string, key: string | undefined }> = []
  let published: Array<Record<string, unknown>> = []
  let registry: Registry
  let source: CrowdsecSource
  const entries: LedgerEntry[] = []

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? '', key: req.headers['x-api-key'] as string | undefined })
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body)
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    writeFileSync(join(dir, 'key'), 'secret-key\n', { mode: 0o600 })
    registry = new Registry()
    source = new CrowdsecSource({
      config: { ...defaultCrowdsecConfig.source, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKeyFile: join(dir, 'key'), maxDecisions: 8, maxBodyBytes: 4096 },
      publish: async input => { published.push(input); return { ok: true, published: true } },
      entries: () => entries,
      ownBan: () => true,
      metrics: createCrowdsecMetrics(registry),
      log: pino({ level: 'silent' })
    })
  })
  afterAll(async () => {
    await source?.stop()
    await new Promise(resolve => server?.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  const outcomes = async () => Object.fromEntries((await registry.getSingleMetric('fst_node_crowdsec_source_decisions_total')!.get()).values.map(v => [v.labels.outcome, v.value]))
  const polls = async () => Object.fromEntries((await registry.getSingleMetric('fst_node_crowdsec_source_polls_total')!.get()).values.map(v => [v.labels.outcome, v.value]))

  it('asks for the stream with its key, startup first, and publishes only valid bans of its origins', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        new: [
          decision({}),
          decision({ id: 2, value: '198.51.100.0/24', scope: 'Range', duration: '3h' }),
          decision({ id: 3, origin: 'CAPI', value: '192.0.2.3' }),
          decision({ id: 4, scenario: 'fst/sshd', origin: 'cscli', value: '192.0.2.4' }),
          decision({ id: 5, type: 'captcha', value: '192.0.2.5' }),
          decision({ id: 6, scope: 'Username', value: 'root' }),
          decision({ id: 7, value: '192.0.2.7; rm -rf /' }),
          decision({ id: 8, duration: 'forever' }),
          decision({ id: 9, value: '192.0.2.90' }),
          decision({ id: 10, value: '192.0.2.91' })
        ],
        deleted: null
      })
    }
    await source.poll()
    expect(requests[0]).toMatchObject({ key: 'secret-key' })
    expect(requests[0]!.url).toMatch(/^\/v1\/decisions\/stream\?startup=true&scopes=ip%2Crange$/)
    expect(published).toEqual([
      { action: 'ban', name: 'crowdsec', protocol: 'all', port: '0:65535', ip: '192.0.2.1', duration: 3600 },
      { action: 'ban', name: 'crowdsec', protocol: 'all', port: '0:65535', ip: '198.51.100.0/24', duration: 10_800 }
    ])
    // the first eight only (maxDecisions): ids 9 and 10 were cut
    expect(await outcomes()).toEqual({ published: 2, other_origin: 1, from_fst: 1, unsupported: 2, invalid: 2, truncated: 2 })
  })

  it('skips what the ledger bans already, then unbans on removal', async () => {
    published = []
    entries.push({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: '192.0.2.9', time: Date.now(), duration: 0, origin: 'peerB' })
    answer = { status: 200, body: JSON.stringify({ new: [decision({ id: 9, value: '192.0.2.9' })], deleted: [decision({ id: 1, duration: '-2s' })] }) }
    await source.poll()
    expect(requests.at(-1)!.url).toContain('startup=false')
    expect(published).toEqual([{ action: 'unban', name: 'crowdsec', protocol: 'all', port: '0:65535', ip: '192.0.2.1' }])
    expect((await outcomes()).known).toBe(1)
  })

  it('counts broken answers and publishes nothing from them', async () => {
    published = []
    for (const body of ['not json', '[1,2,3]', '{"new":"x"}', JSON.stringify({ new: [decision({ value: '192.0.2.50' })], pad: 'x'.repeat(5000) })]) {
      answer = { status: 200, body }
      await source.poll()
    }
    answer = { status: 403, body: '{"message":"access forbidden"}' }
    await source.poll()
    expect(published).toEqual([])
    expect(await polls()).toMatchObject({ ok: 2, bad_answer: 4, http_error: 1 })
  })
})
