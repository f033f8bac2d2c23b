import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CROWDSEC, type CrowdsecLapi, counterValue, fetchIn, startCrowdsecLapi } from '../utils/crowdsec.js'
import { ROOT } from '../utils/mesh.js'
import { leftoverNamespaces, NetnsMesh } from '../utils/netns.js'

const LAPI_PORT = 8080
const METRICS_PORT = 9465
const POLL_S = 0.5
const CSCLI_SCRIPT = join(ROOT, 'contrib/crowdsec/fst-cscli')

/** Records each run as `<action> <ip>` in the host's runs.log. */
const record = (dir: string) => `#!/bin/sh\nprintf '%s %s\\n' "$FST_ACTION" "$FST_IP" >> ${join(dir, 'runs.log')}\n`

function runs (mesh: NetnsMesh, index: number): string[] {
  const file = join(mesh.host(index).dir, 'runs.log')
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

/**
 * Issue 20, CrowdSec as a source: host 1 runs a real CrowdSec LAPI (SQLite, own config dir) and an FST node
 * polling it with a bouncer key; hosts 2 and 3 run FST with recording scripts. `cscli decisions add` on host 1
 * reaches the others' scripts exactly once. Host 1 also pushes received bans into its CrowdSec with
 * contrib/crowdsec/fst-cscli: those come back from the LAPI and are not published again (no echo).
 */
describe('CrowdSec decisions feed the mesh', () => {
  let mesh: NetnsMesh
  let lapi: CrowdsecLapi
  const key = 'fst-test-bouncer-key-0123456789'

  const polls = async () => counterValue((await fetchIn(mesh, 1, `http://127.0.0.1:${METRICS_PORT}/metrics`)).body, 'fst_node_crowdsec_source_polls_total', { outcome: 'ok' })
  /** Waits for two more successful polls: anything a poll would publish has been published by then. */
  const twoMorePolls = async () => {
    const start = await polls()
    await pWaitFor(async () => (await polls()) >= start + 2, { interval: 100, timeout: 10_000 })
  }

  beforeAll(async () => {
    expect(existsSync(CROWDSEC), `${CROWDSEC} missing: apt-get install crowdsec (.ci/run does)`).toBe(true)
    mesh = await NetnsMesh.create({
      hosts: 3,
      config: (index, dir) => index !== 1
        ? {}
        : {
            metricsListen: `127.0.0.1:${METRICS_PORT}`,
            scriptEnv: { FST_CROWDSEC_CONFIG: join(dir, 'crowdsec/config.yaml') },
            crowdsec: { source: { url: `http://127.0.0.1:${LAPI_PORT}/`, apiKeyFile: 'crowdsec.key', intervalS: POLL_S } }
          },
      prepare: async (host, m) => {
        if (host.index === 1) {
          writeFileSync(join(host.dir, 'crowdsec.key'), `${key}\n`, { mode: 0o600 })
          for (const action of ['ban', 'unban']) m.installScript(1, action, '50-crowdsec', { file: CSCLI_SCRIPT })
          lapi = await startCrowdsecLapi(m, 1, LAPI_PORT, { name: 'fst', key })
        } else {
          for (const action of ['ban', 'unban']) m.installScript(host.index, action, '50-record', { body: record(host.dir) })
        }
      }
    })
  })
  afterAll(async () => {
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  it('publishes a cscli decision to the other nodes exactly once, and its deletion unbans', async () => {
    const ip = '192.0.2.77'
    const t0 = performance.now()
    const added = await lapi.cscli(['decisions', 'add', '-i', ip, '-d', '1h'])
    expect(added.code, added.stderr).toBe(0)
    await pWaitFor(() => runs(mesh, 2).includes(`ban ${ip}`) && runs(mesh, 3).includes(`ban ${ip}`), { interval: 25, timeout: 10_000 })
    const reached = performance.now() - t0
    await twoMorePolls()
    await mesh.settle()
    for (const index of [2, 3]) expect(runs(mesh, index).filter(l => l === `ban ${ip}`)).toHaveLength(1)
    const listed = JSON.parse((await mesh.fst(2, ['list', '--json'])).stdout) as Array<{ ip: string, name: string, duration: number, origin: string }>
    const entry = listed.find(e => e.ip === ip)
    expect(entry).toMatchObject({ name: 'crowdsec' })
    expect(entry!.duration).toBeGreaterThan(3590)
    expect(entry!.duration).toBeLessThanOrEqual(3600)

    const deleted = await lapi.cscli(['decisions', 'delete', '-i', ip])
    expect(deleted.code, deleted.stderr).toBe(0)
    await pWaitFor(() => runs(mesh, 2).includes(`unban ${ip}`) && runs(mesh, 3).includes(`unban ${ip}`), { interval: 25, timeout: 10_000 })
    console.log(`crowdsec source: cscli decision on host 1 ran the ban scripts of hosts 2 and 3 after ${Math.round(reached)} ms (poll every ${POLL_S * 1000} ms), once each; its deletion unbanned`)
  })

  it('does not publish again what the mesh put into CrowdSec (no echo)', async () => {
    const ip = '198.51.100.88'
    expect((await mesh.hook(2, ['ban', 'sshd', 'tcp', '22', ip, '600'])).code).toBe(0)
    // host 1's fst-cscli script adds the ban to its CrowdSec with the reason fst/sshd
    await pWaitFor(async () => (await lapi.cscli(['decisions', 'list', '-o', 'raw'])).stdout.includes(ip), { interval: 100, timeout: 10_000 })
    const listing = (await lapi.cscli(['decisions', 'list', '-o', 'raw'])).stdout
    expect(listing).toContain('fst/sshd')
    await twoMorePolls()
    await mesh.settle()
    expect(runs(mesh, 3).filter(l => l === `ban ${ip}`)).toHaveLength(1)
    expect(runs(mesh, 2).filter(l => l.endsWith(ip))).toHaveLength(0)
    const metrics = (await fetchIn(mesh, 1, `http://127.0.0.1:${METRICS_PORT}/metrics`)).body
    expect(counterValue(metrics, 'fst_node_crowdsec_source_decisions_total', { outcome: 'from_fst' })).toBeGreaterThanOrEqual(1)
    expect(counterValue(metrics, 'fst_node_crowdsec_source_decisions_total', { outcome: 'published' })).toBe(1)

    // the unban deletes the decision fst-cscli made, and nothing is published for that either
    expect((await mesh.hook(2, ['unban', 'sshd', 'tcp', '22', ip])).code).toBe(0)
    await pWaitFor(async () => !(await lapi.cscli(['decisions', 'list', '-o', 'raw'])).stdout.includes(ip), { interval: 100, timeout: 10_000 })
    await twoMorePolls()
    expect(runs(mesh, 3).filter(l => l.endsWith(ip))).toEqual([`ban ${ip}`, `unban ${ip}`])
    console.log('crowdsec source: a mesh ban pushed into CrowdSec by fst-cscli came back from the LAPI as fst/sshd and was not republished')
  })
})
