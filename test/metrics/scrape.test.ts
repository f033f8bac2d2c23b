import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { parse as parseYaml } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type Mesh, ROOT } from '../utils/mesh.js'
import { MetricsProcess, sample } from '../utils/metrics-service.js'

/**
 * Issue 6: `/metrics` of the metrics service and of a node, scraped after known traffic. The metrics
 * service protects 198.51.100.0/24 (the nodes do not), so a ban there is refused by its validator only:
 * a cheap, deterministic rejected message.
 */
describe('Prometheus /metrics after known traffic', () => {
  let mesh: Mesh
  let metrics: MetricsProcess
  let nodeMetricsPort: number

  beforeAll(async () => {
    nodeMetricsPort = await freePort()
    ;({ mesh, metrics } = await MetricsProcess.withMesh({
      nodes: 2,
      config: i => (i === 1 ? { metricsListen: `127.0.0.1:${nodeMetricsPort}` } : {})
    }, { ignore: ['198.51.100.0/24'] }))
  })
  afterAll(async () => {
    await metrics?.stop()
    await mesh?.stop()
  })

  it('counts 3 bans and 1 unban on sshd exactly, and a refused message by reason', async () => {
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', ip])).code).toBe(0)
    }
    expect((await mesh.hook(0, ['unban', 'sshd', 'tcp', '22', '203.0.113.1'])).code).toBe(0)
    expect((await mesh.hook(0, ['ban', 'web', 'tcp', '443', '198.51.100.7'])).code).toBe(0)
    // node 1 applied all five: the metrics peer, on the same mesh, has seen them too (or will shortly)
    await mesh.waitForRuns(1, 5)
    let text = ''
    await pWaitFor(async () => {
      text = await metrics.scrape()
      return sample(text, 'fst_mesh_messages_rejected_total{reason="protected_address"}') === 1 &&
        sample(text, 'fst_mesh_events_total{action="unban",name="sshd",outcome="accept"}') === 1
    }, { interval: 100, timeout: 10_000 }).catch(err => { throw new Error(`${(err as Error).message}\n${text}\n${metrics.log().slice(-2000)}`) })

    expect(sample(text, 'fst_mesh_events_total{action="ban",name="sshd",outcome="accept"}')).toBe(3)
    expect(sample(text, 'fst_mesh_events_total{action="unban",name="sshd",outcome="accept"}')).toBe(1)
    expect(sample(text, 'fst_mesh_events_total{action="ban",name="web",outcome="reject"}')).toBe(1)
    expect(sample(text, 'fst_mesh_events_total{action="ban",name="web",outcome="accept"}')).toBeUndefined()
    expect(sample(text, 'fst_mesh_bans_total{name="sshd"}')).toBe(3)
    expect(sample(text, 'fst_mesh_unbans_total{name="sshd"}')).toBe(1)
    expect(sample(text, 'fst_mesh_active_bans')).toBe(2)
    expect(sample(text, 'fst_mesh_messages_rejected_total{reason="protected_address"}')).toBe(1)
    expect(sample(text, 'fst_mesh_messages_total{outcome="reject"}')).toBe(1)
    // the hook calls are separate processes, so each event travelled in its own message
    expect(sample(text, 'fst_mesh_messages_total{outcome="accept"}')).toBe(4)
    expect(sample(text, 'fst_mesh_propagation_delay_seconds_count')).toBe(4)
    expect(sample(text, 'fst_mesh_propagation_delay_seconds_bucket{le="+Inf"}')).toBe(4)
    expect(sample(text, 'fst_mesh_peers_connected')).toBe(2)
    // bounded labels: no address and no peer ID anywhere in the exposition
    expect(text).not.toMatch(/203\.0\.113|198\.51\.100|12D3KooW/)
  })

  it('serves the node-level registry on metricsListen, libp2p metrics included', async () => {
    const res = await fetch(`http://127.0.0.1:${nodeMetricsPort}/metrics`)
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(sample(text, 'fst_node_events_received_total{action="ban"}')).toBe(4)
    expect(sample(text, 'fst_node_events_received_total{action="unban"}')).toBe(1)
    expect(sample(text, 'fst_node_script_runs_total{action="ban",outcome="ok"}')).toBe(4)
    expect(sample(text, 'fst_node_script_runs_total{action="unban",outcome="ok"}')).toBe(1)
    expect(sample(text, 'fst_node_script_duration_seconds_count{action="ban"}')).toBe(4)
    expect(sample(text, 'fst_node_messages_total{outcome="accept"}')).toBe(5)
    expect(sample(text, 'fst_node_runner_queue_events')).toBe(0)
    expect(sample(text, 'fst_node_ledger_active_entries')).toBe(3)
    // node 0 and the metrics peer
    expect(sample(text, 'fst_node_peers_connected')).toBe(2)
    expect(text).toMatch(/^libp2p_\w+/m)
    expect(text).not.toMatch(/203\.0\.113|198\.51\.100|12D3KooW/)
    expect((await fetch(`http://127.0.0.1:${nodeMetricsPort}/nope`)).status).toBe(404)
  })

  it('documents every fst_ metric both endpoints expose, and contrib uses only those', async () => {
    const families = (text: string) => [...text.matchAll(/^# TYPE (fst_\w+) /gm)].map(m => m[1]!)
    const exposed = [
      ...families(await metrics.scrape()),
      ...families(await (await fetch(`http://127.0.0.1:${nodeMetricsPort}/metrics`)).text())
    ]
    expect(exposed.length).toBeGreaterThan(15)
    const docs = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8')
    const documented = new Set([...docs.matchAll(/^\| `(fst_\w+)` \|/gm)].map(m => m[1]!))
    expect(new Set(exposed)).toEqual(documented)
    const grafana = readFileSync(join(ROOT, 'contrib/grafana/fst-mesh.json'), 'utf8')
    const used = new Set([...grafana.matchAll(/\b(fst_\w+?)(?:_bucket)?\b/g)].map(m => m[1]!))
    expect([...used].filter(name => !documented.has(name))).toEqual([])
    const prometheus = parseYaml(readFileSync(join(ROOT, 'contrib/prometheus/prometheus.yml'), 'utf8'))
    expect(prometheus.scrape_configs.map((c: { job_name: string }) => c.job_name)).toEqual(['fst-mesh', 'fst-node'])
  })

  it('answers 404 for unknown paths on the metrics service', async () => {
    expect((await fetch(`${metrics.url}nope`)).status).toBe(404)
    expect((await fetch(`${metrics.url}../etc/passwd`)).status).toBe(404)
    expect((await fetch(`${metrics.url}metrics`, { method: 'POST' })).status).toBe(404)
  })
})
