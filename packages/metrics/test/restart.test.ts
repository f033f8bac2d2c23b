import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, loadConfig } from '@fst/node'
import type { FstEvent } from '@fst/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { Aggregator } from '../src/aggregator.js'
import { HistoryStore } from '../src/history.js'
import { MeshObserver } from '../src/service.js'

const dir = mkdtempSync(join(tmpdir(), 'fst-restart-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const log = createLogger('silent')
const config = loadConfig(null)
const now = Date.now()
const events: FstEvent[] = ['8.8.8.8', '1.1.1.1', '2606:4700::1111'].map((ip, i) => ({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip, time: now - 3000 + i, duration: 600 }))
const verdict = { result: 'accept' as const, origin: '12D3KooWPeerA', events, proofs: [] }
const refused = { result: 'reject' as const, reason: 'protected_address', error: 'protected' }

/** One run of the metrics service as MetricsService.start wires it: stored history replayed, then the mesh. */
async function run (path: string) {
  const history = await HistoryStore.open(path)
  const observer = new MeshObserver(config, log, new Aggregator())
  for (const item of history.storedEvents()) observer.aggregator.replay(item)
  for (const refusal of history.storedRefusals()) observer.aggregator.refused(refusal)
  observer.useHistory(history)
  return { history, observer }
}

/**
 * Issue 24: after a restart the dashboard showed the newest feed rows twice. A new process has an empty
 * gossipsub seen cache, so a peer's IHAVE gossip (its message cache holds the last few heartbeats) makes
 * it fetch messages it had already recorded before the restart. The race is made deterministic here: the
 * same message reaches the observer before the restart and again after its history was replayed.
 */
describe('metrics service restart', () => {
  it('records a message gossip re-delivers after a restart once: feed, totals, counters and store', async () => {
    const path = join(dir, 'history')
    const first = await run(path)
    first.observer.observe(verdict, new Uint8Array(), '12D3KooWPeerA/1')
    await first.history.close()

    const second = await run(path)
    expect(second.observer.aggregator.summary().feed).toHaveLength(3)
    // the peer's message cache sends the same signed message again
    second.observer.observe(verdict, new Uint8Array(), '12D3KooWPeerA/1')
    const summary = second.observer.aggregator.summary()
    expect(summary.feed.map(e => e.ip)).toEqual(['2606:4700::1111', '1.1.1.1', '8.8.8.8'])
    expect(summary.totals).toEqual({ events: 3, bans: 3, unbans: 0 })
    expect(summary.minutes.reduce((sum, m) => sum + m.bans, 0)).toBe(3)
    expect(summary.origins).toMatchObject([{ origin: verdict.origin, bans: 3 }])
    const metrics = await second.observer.registry.getSingleMetricAsString('fst_mesh_bans_total')
    expect(metrics).not.toMatch(/fst_mesh_bans_total\{name="sshd"\} [1-9]/)
    const duplicates = await second.observer.registry.getSingleMetricAsString('fst_mesh_duplicates_total')
    expect(duplicates).toMatch(/fst_mesh_duplicates_total\{kind="event"\} 3/)
    await second.history.close()

    const third = await run(path)
    expect([...third.history.storedEvents()]).toHaveLength(3)
    expect(third.observer.aggregator.summary().feed).toHaveLength(3)
    await third.history.close()
  })

  it('counts a refused message gossip re-delivers after a restart once', async () => {
    const path = join(dir, 'refused')
    const first = await run(path)
    first.observer.observe(refused, new Uint8Array(), '12D3KooWPeerA/2')
    await first.history.close()

    const second = await run(path)
    second.observer.observe(refused, new Uint8Array(), '12D3KooWPeerA/2')
    expect(second.observer.aggregator.summary().refused.total).toBe(1)
    expect(await second.observer.registry.getSingleMetricAsString('fst_mesh_messages_total')).not.toMatch(/outcome="reject"\} [1-9]/)
    await second.history.close()
    const third = await run(path)
    expect([...third.history.storedRefusals()]).toHaveLength(1)
    // another message (sequence number) with the same reason is counted
    third.observer.observe(refused, new Uint8Array(), '12D3KooWPeerA/3')
    expect(third.observer.aggregator.summary().refused.total).toBe(2)
    await third.history.close()
  })

  it('still records a different event for the same address (a re-issued ban is not a duplicate)', async () => {
    const path = join(dir, 'reissue')
    const first = await run(path)
    first.observer.observe(verdict, new Uint8Array())
    const again = { ...verdict, events: [{ ...events[0]!, time: events[0]!.time + 10_000 }] }
    first.observer.observe(again, new Uint8Array())
    expect(first.observer.aggregator.summary().feed).toHaveLength(4)
    await first.history.close()
  })
})
