import { readdirSync, readFileSync, statSync, truncateSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { ask } from '@fst/cli'
import type { ControlRequest } from '@fst/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST_ACTION, freePort, Mesh, run } from '../utils/mesh.js'

const QUEUED = 'queued: node not running, will be published when it starts'
const WRITERS = 8
const REPORTS = 1000
/** The 1,000 reports, an expiring ban, a truncated one, a ban and its unban: the spool is then full. */
const MAX_EVENTS = REPORTS + 4

/** The i-th address of the benchmark range 198.18.0.0/15, which no test node is listed under. */
const address = (i: number) => `198.18.${i >> 8}.${i & 255}`

/**
 * Issue 24 item 1: reports made while the local node is down are spooled by the hook and published, each
 * with its report time, when the node starts. Node 0 is down; nodes 1 and 2 run and record every script run.
 */
describe('the spool: reports made while the node is down', () => {
  let mesh: Mesh
  let metricsPort = 0
  /** When the 1,000 reports were all made. */
  let reportedBy = 0
  const spoolDir = () => join(mesh.nodes[0]!.dir, 'spool')
  const spooled = () => readdirSync(spoolDir()).filter(n => n.endsWith('.json'))
  const hook = (args: string[]) => mesh.hook(0, args)
  /** A hook ban with node 0's config (its spool) sent to `socket` instead of node 0's. */
  const hookAt = (socket: string, ip: string) => run(process.execPath, [FST_ACTION, '--config', mesh.nodes[0]!.configFile, '--socket', socket, 'ban', 'sshd', 'tcp', '22', ip, '600'])
  /** hookAt a stand-in for the node that serves each connection with `serve`, listening for that one call. */
  const hookAtStandIn = async (name: string, serve: (socket: Socket) => void, ip: string) => {
    const standIn = createServer(serve)
    const path = join(mesh.root, `${name}.sock`)
    await new Promise<void>(resolve => standIn.listen(path, resolve))
    try {
      return await hookAt(path, ip)
    } finally {
      await new Promise(resolve => standIn.close(resolve))
    }
  }

  beforeAll(async () => {
    metricsPort = await freePort()
    mesh = await Mesh.create({
      nodes: 3,
      start: false,
      config: i => (i === 0 ? { spool: { maxEvents: MAX_EVENTS }, metricsListen: `127.0.0.1:${metricsPort}` } : {})
    })
    await mesh.startNode(1)
    await mesh.startNode(2)
    await mesh.waitConnected()
  })
  afterAll(async () => { await mesh?.stop() })

  it('queues 1,000 hook calls from 8 concurrent writers: exit 0, one line, one file each, root only', async () => {
    const results = await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
      const out = []
      for (let i = w; i < REPORTS; i += WRITERS) out.push(await hook(['ban', 'sshd', 'tcp', '22', address(i), '3600']))
      return out
    }))
    const all = results.flat()
    expect(all).toHaveLength(REPORTS)
    for (const r of all) expect(r, r.stderr).toMatchObject({ code: 0, stdout: `${QUEUED}\n`, stderr: '' })
    expect(spooled()).toHaveLength(REPORTS)
    expect(statSync(spoolDir()).mode & 0o777).toBe(0o700)
    // no temp file left behind, every record whole
    expect(readdirSync(spoolDir()).filter(n => !n.endsWith('.json'))).toEqual([])
    const ips = spooled().map(n => (JSON.parse(readFileSync(join(spoolDir(), n), 'utf8')) as { request: { ip: string } }).request.ip)
    expect(new Set(ips).size).toBe(REPORTS)
    reportedBy = Date.now()
  })

  it('queues a ban that expires before the node starts, a truncated report, and a ban with its later unban', async () => {
    const before = new Set(spooled())
    const expiring = await hook(['ban', 'sshd', 'tcp', '22', '198.19.0.1', '1'])
    expect(expiring).toMatchObject({ code: 0, stdout: `${QUEUED}\n` })
    const expiredAt = Date.now() + 1000
    expect(await hook(['ban', 'sshd', 'tcp', '22', '198.19.0.2', '600'])).toMatchObject({ code: 0 })
    // a power cut after the rename, on a file system that did not keep the data: half a record
    const truncated = spooled().find(n => !before.has(n) && readFileSync(join(spoolDir(), n), 'utf8').includes('198.19.0.2'))!
    truncateSync(join(spoolDir(), truncated), 40)
    expect(await hook(['ban', 'sshd', 'tcp', '22', '198.19.0.3', '600'])).toMatchObject({ code: 0 })
    expect(await mesh.fst(0, ['unban', '198.19.0.3', '--name', 'sshd'])).toMatchObject({ code: 0, stdout: `${QUEUED}\n` })
    expect(spooled()).toHaveLength(MAX_EVENTS)
    await pWaitFor(() => Date.now() > expiredAt, { interval: 50, timeout: 5000 })
  })

  it('past spool.maxEvents the hook exits 1 with a clear message and the report is not queued', async () => {
    const full = await hook(['ban', 'sshd', 'tcp', '22', '198.19.0.4', '600'])
    expect(full.code).toBe(1)
    expect(full.stderr).toMatch(/^fst-action: spool full: 1004 reports, \d+ bytes in .*spool \(spool\.maxEvents 1004, spool\.maxBytes \d+\): this report is NOT queued; start the node\n$/)
    expect(full.stdout).toBe('')
    expect(spooled()).toHaveLength(MAX_EVENTS)
  })

  it('drains at start: every report reaches both peers once, the expired ban and the unbanned one run nowhere, the damaged file is set aside with one warning', async () => {
    await mesh.startNode(0)
    await mesh.waitConnected()
    // the queued ban and unban of 198.19.0.3 are in the peers' ledgers as the unban
    for (const peer of [1, 2]) {
      expect(await mesh.waitForLedger(peer, REPORTS + 1, 60_000), mesh.nodes[peer]!.log().slice(-2000)).toBe(true)
      await mesh.waitForRuns(peer, REPORTS, 60_000)
    }
    await mesh.settle()
    for (const peer of [0, 1, 2]) {
      const runs = mesh.runs(peer)
      const expected = peer === 0 ? 0 : REPORTS
      expect(runs, `node ${peer}`).toHaveLength(expected)
      expect(new Set(runs).size).toBe(expected)
      expect(runs.filter(r => r.includes('198.19.'))).toEqual([])
      const entries = await mesh.list(peer, true)
      expect(entries.filter(e => e.ip === '198.19.0.1' || e.ip === '198.19.0.2')).toEqual([])
      expect(entries.filter(e => e.ip === '198.19.0.3').map(e => e.action)).toEqual(['unban'])
      expect(entries.filter(e => e.action === 'ban' && e.ip.startsWith('198.18.'))).toHaveLength(REPORTS)
    }
    // each published ban keeps its report time: it expires an hour after the hook call, not after the drain
    const reported = (await mesh.list(0)).filter(e => e.ip.startsWith('198.18.'))
    expect(reported).toHaveLength(REPORTS)
    expect(Math.max(...reported.map(e => e.time))).toBeLessThanOrEqual(reportedBy)
    expect(spooled()).toEqual([])
    expect(readdirSync(spoolDir()).filter(n => n.endsWith('.damaged'))).toHaveLength(1)
    const warnings = mesh.nodes[0]!.log().split('\n').filter(l => l.includes('spool file is not a report'))
    expect(warnings).toHaveLength(1)
    expect((await mesh.status(0)).spool).toEqual({ depth: 0 })
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(metrics).toMatch(/^fst_node_spool_drained_total\{outcome="published"\} 1002$/m)
    expect(metrics).toMatch(/^fst_node_spool_drained_total\{outcome="expired"\} 1$/m)
    expect(metrics).toMatch(/^fst_node_spool_drained_total\{outcome="damaged"\} 1$/m)
    expect(metrics).toMatch(/^fst_node_spool_full_total 1$/m)
    expect(metrics).toMatch(/^fst_node_spool_depth 0$/m)
  })

  it('with the node running, a hook call takes the usual path, and a report spooled meanwhile (no socket, or a node closing the connection) is drained at once', async () => {
    expect(await hook(['ban', 'sshd', 'tcp', '22', '198.19.1.1', '600'])).toMatchObject({ code: 0, stdout: '' })
    // a hook that found no node (here: pointed at another socket) while this one runs: the watcher takes it
    expect(await hookAt(join(mesh.root, 'none.sock'), '198.19.1.2')).toMatchObject({ code: 0, stdout: `${QUEUED}\n` })
    // a node that is stopping accepts and closes before it answers: queued too
    expect(await hookAtStandIn('closing', socket => socket.destroy(), '198.19.1.3')).toMatchObject({ code: 0, stdout: `${QUEUED}\n` })
    for (const peer of [1, 2]) {
      const runs = await mesh.waitForRuns(peer, REPORTS + 3)
      expect(runs.filter(r => r.includes('198.19.1.'))).toHaveLength(3)
    }
    await pWaitFor(() => spooled().length === 0, { interval: 20, timeout: 10_000 })
  })

  it('a hook still waiting when the node refuses its request as past the deadline queues the report: nothing lost', async () => {
    // the node checks the deadline when it takes the request up (9 s), the hook gives up at 10 s: in between,
    // the refusal reaches a hook that is still waiting. This node answers that refusal at once.
    const refusal = `${JSON.stringify({ ok: false, code: 'deadline_passed', error: 'the request waited past its deadline' })}\n`
    const out = await hookAtStandIn('late', socket => socket.once('data', () => socket.write(refusal)), '198.19.3.1')
    expect(out).toMatchObject({ code: 0, stdout: `${QUEUED}\n` })
    // the queued copy reaches the real node 0 through its spool, and its peers run it
    for (const peer of [1, 2]) await pWaitFor(() => mesh.runs(peer).some(r => r.split(' ').includes('198.19.3.1')), { interval: 20, timeout: 10_000 })
  }, 60_000)

  it('a node that reads a hook request after the hook gave up and spooled it refuses it: no second ban after the unban', async () => {
    // a stalled node: it accepts and reads the request, then does not answer until the hook's 10 s are up
    let held = ''
    const out = await hookAtStandIn('stalled', socket => { socket.on('data', d => { held += d.toString() }) }, '198.19.2.1')
    expect(out).toMatchObject({ code: 0, stdout: `${QUEUED}\n` })
    // the spooled copy is the report: drained at once, it runs on the peers
    const runsFor = (peer: number) => mesh.runs(peer).filter(r => r.split(' ').includes('198.19.2.1')).map(r => r.split(' ')[0])
    await pWaitFor(() => runsFor(1).length > 0, { interval: 20, timeout: 10_000 })
    expect(await hook(['unban', 'sshd', 'tcp', '22', '198.19.2.1'])).toMatchObject({ code: 0, stdout: '' })
    for (const peer of [1, 2]) await pWaitFor(() => runsFor(peer).includes('unban'), { interval: 20, timeout: 10_000 })
    // now the node reads the request it held: taken up, it would ban the address again on every peer
    const answer = await ask(mesh.socket(0), JSON.parse(held) as ControlRequest)
    expect(answer).toMatchObject({ ok: false, code: 'deadline_passed' })
    for (const peer of [1, 2]) {
      expect((await mesh.list(peer, true)).filter(e => e.ip === '198.19.2.1').map(e => e.action)).toEqual(['unban'])
      expect(runsFor(peer)).toEqual(['ban', 'unban'])
    }
  }, 60_000)
}, 300_000)
