import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addressGuard, type FstEvent } from '@fst/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import pWaitFor from 'p-wait-for'
import { Registry } from 'prom-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Applier, type JobQueue } from '../src/actions/applier.js'
import { controlHandler } from '../src/control/handlers.js'
import type { Job } from '../src/actions/runner.js'
import { ExpirySweeper } from '../src/ledger/expiry.js'
import { HeldReports } from '../src/ledger/held.js'
import { Ledger } from '../src/ledger/store.js'
import { Publisher } from '../src/mesh/publisher.js'
import { Receiver } from '../src/mesh/receiver.js'
import { createNodeMetrics } from '../src/metrics/metrics.js'
import { Provenance } from '../src/trust/provenance.js'
import { QuorumTracker } from '../src/trust/quorum.js'
import { QuorumGate } from '../src/trust/quorum-gate.js'

/**
 * The node's parts wired as node.ts wires them, in one process: a real LMDB ledger, a fake clock, and a stub
 * runner that records the jobs it is given instead of running scripts.
 */
/** Real keys: every entry carries its origin's proof (a signed batch root and the entry's inclusion path). */
const signers = await Promise.all(['self', 'peerA', 'peerB'].map(async name => {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  return [name, { id, provenance: new Provenance(key, id) }] as const
}))
const signer = Object.fromEntries(signers)
const SELF = signer.self!.id
/** The peer ID of a named test peer. */
const P = (name: 'peerA' | 'peerB') => signer[name]!.id
const T0 = 1_700_000_000_000
const throttle = { warn: () => {}, info: () => {} }

class StubRunner implements JobQueue {
  readonly jobs: Job[] = []
  enqueue (job: Job): void { this.jobs.push(job) }
  get pending (): number { return this.jobs.length }
  /** "action ip@origin" per queued event, for readable assertions. */
  lines (): string[] { return this.jobs.flatMap(j => j.events.map(e => `${j.action} ${e.ip}@${j.origin}`)) }
}

function parts (opts: { quorum?: Record<string, { peers: number, windowS: number }>, removals?: { peers: number, windowS: number }, runOwnEvents?: boolean } = {}) {
  let now = T0
  const clock = { now: () => now, advance: (ms: number) => { now += ms } }
  const dir = mkdtempSync(join(tmpdir(), 'fst-parts-'))
  const ledger = Ledger.open(join(dir, 'ledger'))
  const runner = new StubRunner()
  const metrics = createNodeMetrics(new Registry())
  const tracker = new QuorumTracker(opts.quorum ?? {}, clock.now, opts.removals)
  const held = HeldReports.open(join(dir, 'held'))
  const gate = tracker.active
    ? new QuorumGate({ tracker, held, self: SELF, maxHeldPerOrigin: 1000, onHeld: () => {}, onRefused: () => {}, now: clock.now })
    : null
  const applier = new Applier(runner)
  const apply = (changes: Parameters<Applier['run']>[0]) => applier.run(changes)
  const sent: FstEvent[] = []
  const send = async (e: FstEvent) => { sent.push(e); return signer.self!.provenance.signBatch([{ ...e, origin: SELF }]).proofs[0]! }
  const receiver = new Receiver({ ledger, quorum: gate, onRefused: () => {}, apply, metrics, throttle, now: clock.now })
  const publisher = new Publisher({
    self: SELF, ledger, guard: () => addressGuard({ protect: ['10.0.0.0/8'], minPrefixV4: 16, minPrefixV6: 32 }),
    send,
    quorum: gate, mayLift: () => true, apply, runOwnEvents: opts.runOwnEvents ?? false, metrics, throttle, now: clock.now
  })
  const expiry = new ExpirySweeper({
    ledger, self: SELF, announce: e => { const proof = send(e); void gate?.own(e, proof).written }, apply, runOwnEvents: false, announceWithinMs: 30_000, retentionMs: 86_400_000, now: clock.now
  })
  /** A message from a named peer, as the validator hands it on: its events and their proofs. */
  const receive = (from: 'peerA' | 'peerB', events: FstEvent[]) => {
    const { proofs } = signer[from]!.provenance.signBatch(events.map(e => ({ ...e, origin: P(from) })))
    return receiver.receive(P(from), events, proofs)
  }
  const cleanup = async () => { await ledger.close(); await held.close(); rmSync(dir, { recursive: true, force: true }) }
  return { clock, ledger, held, runner, metrics, receiver, receive, publisher, expiry, sent, cleanup }
}

const ev = (action: string, ip: string, time: number, extra: Partial<FstEvent> = {}): FstEvent =>
  ({ action, name: 'sshd', protocol: 'tcp', port: '22', ip, time, duration: 0, ...extra })
const hook = (action: string, ip: string, duration?: number) =>
  ({ action, name: 'sshd', protocol: 'tcp', port: '22', ip, ...(duration === undefined ? {} : { duration }) })

describe('node parts in-process (fake clock, stub runner)', () => {
  let p: ReturnType<typeof parts>
  beforeEach(() => { p = parts() })
  afterEach(async () => { await p.cleanup() })

  it('receiver: a received ban queues one job per action and origin; a repeat queues nothing', () => {
    p.receive('peerA', [ev('ban', '203.0.113.1', T0), ev('ban', '203.0.113.2', T0)])
    p.receive('peerB', [ev('ban', '203.0.113.3', T0)])
    expect(p.runner.jobs.map(j => `${j.action}@${j.origin}:${j.events.length}`)).toEqual([`ban@${P('peerA')}:2`, `ban@${P('peerB')}:1`])
    expect(p.receive('peerA', [ev('ban', '203.0.113.1', T0)])).toEqual([])
    expect(p.runner.jobs).toHaveLength(2)
    expect(p.receiver.lastHeard.get(P('peerA'))).toBe(T0)
  })

  it('receiver: an unban of something never banned runs nothing, one of an active ban runs unban', () => {
    p.receive('peerA', [ev('unban', '203.0.113.9', T0)])
    expect(p.runner.jobs).toEqual([])
    p.receive('peerA', [ev('ban', '203.0.113.1', T0)])
    p.receive('peerB', [ev('unban', '203.0.113.1', T0 + 1)])
    expect(p.runner.lines()).toEqual([`ban 203.0.113.1@${P('peerA')}`, `unban 203.0.113.1@${P('peerB')}`])
  })

  it('publisher: a removal goes out with duration 0 and a port in one canonical form, whatever the hook gave (issue 24)', async () => {
    expect(await p.publisher.publish({ ...hook('ban', '203.0.113.1', 600), port: '022' })).toMatchObject({ ok: true, published: true })
    expect(await p.publisher.publish(hook('unban', '203.0.113.1', 60))).toMatchObject({ ok: true, published: true })
    expect(p.sent.map(e => [e.action, e.port, e.duration])).toEqual([['ban', '22', 600], ['unban', '22', 0]])
    expect(p.ledger.get('ban|sshd|203.0.113.1')).toMatchObject({ action: 'unban', duration: 0 })
  })

  it('receiver: after stop nothing enters the ledger', () => {
    p.receiver.stop()
    expect(p.receive('peerA', [ev('ban', '203.0.113.1', T0)])).toEqual([])
    expect(p.ledger.size).toBe(0)
  })

  it('publisher: records durably, sends once, and suppresses the echo of what the mesh already applied', async () => {
    const first = await p.publisher.publish(hook('ban', '203.0.113.7'))
    expect(first).toMatchObject({ ok: true, published: true, time: T0 })
    expect(p.sent.map(e => `${e.action} ${e.ip}`)).toEqual(['ban 203.0.113.7'])
    expect(await p.publisher.publish(hook('ban', '203.0.113.7'))).toEqual({ ok: true, published: false })
    expect(p.publisher.suppressed).toBe(1)
    // a received ban coming back through fail2ban's hook changes nothing either
    p.receive('peerA', [ev('ban', '203.0.113.8', T0)])
    expect(await p.publisher.publish(hook('ban', '203.0.113.8'))).toEqual({ ok: true, published: false })
    // own events run no scripts unless runOwnEvents
    expect(p.runner.lines()).toEqual([`ban 203.0.113.8@${P('peerA')}`])
  })

  it('publisher: an unban right after a ban is issued later than the ban, even within the same millisecond', async () => {
    await p.publisher.publish(hook('ban', '203.0.113.7'))
    const unban = await p.publisher.publish(hook('unban', '203.0.113.7'))
    expect(unban).toMatchObject({ ok: true, published: true, time: T0 + 1 })
  })

  it('publisher: a spooled report keeps its report time; expired, it is not published; older than the ledger, it changes nothing', async () => {
    p.clock.advance(120_000)
    // reported two minutes ago for an hour: published with that time, so it ends an hour after the report
    expect(await p.publisher.publish(hook('ban', '203.0.113.20', 3600), T0)).toMatchObject({ ok: true, published: true, time: T0 })
    // reported two minutes ago for a minute: over before the node saw it
    expect(await p.publisher.publish(hook('ban', '203.0.113.21', 60), T0)).toEqual({ ok: true, published: false, expired: true })
    expect(p.ledger.get('ban|sshd|203.0.113.21')).toBeUndefined()
    // the unban reported after its ban wins; a ban reported before a peer's later unban loses to it
    expect(await p.publisher.publish(hook('unban', '203.0.113.20'), T0 + 1)).toMatchObject({ ok: true, published: true, time: T0 + 1 })
    p.receive('peerA', [ev('ban', '203.0.113.22', T0 + 10, { duration: 3600 }), ev('unban', '203.0.113.22', T0 + 20)])
    expect(await p.publisher.publish(hook('ban', '203.0.113.22', 3600), T0 + 15)).toEqual({ ok: true, published: false })
    expect(p.ledger.get('ban|sshd|203.0.113.22')).toMatchObject({ action: 'unban', time: T0 + 20 })
    // a report time in the future (a clock stepped back since) is taken as now
    expect(await p.publisher.publish(hook('ban', '203.0.113.23', 60), T0 + 999_999)).toMatchObject({ time: T0 + 120_000 })
    expect(p.sent.map(e => `${e.action} ${e.ip} ${e.time - T0}`)).toEqual(['ban 203.0.113.20 0', 'unban 203.0.113.20 1', 'ban 203.0.113.23 120000'])
  })

  it('publisher: a hook request read after its deadline is refused, so the spooled copy is the only one (soak: ban, unban, ban, unban)', async () => {
    // the hook gave up at T0 + 10 s and spooled ban and unban; the spool drained them ...
    p.clock.advance(12_000)
    expect(await p.publisher.publish(hook('ban', '203.0.113.30', 3600), T0)).toMatchObject({ published: true })
    expect(await p.publisher.publish(hook('unban', '203.0.113.30'), T0 + 1)).toMatchObject({ published: true })
    // ... then the stalled node reads the original socket requests: taken up, they would ban and unban again
    expect(await p.publisher.publish({ ...hook('ban', '203.0.113.30', 3600), deadline: T0 + 9000 })).toMatchObject({ ok: false, code: 'deadline_passed' })
    expect(await p.publisher.publish({ ...hook('unban', '203.0.113.30'), deadline: T0 + 9001 })).toMatchObject({ ok: false, code: 'deadline_passed' })
    expect(p.sent.map(e => `${e.action} ${e.ip}`)).toEqual(['ban 203.0.113.30', 'unban 203.0.113.30'])
    expect((await p.metrics.refused.get()).values.find(v => v.labels.reason === 'deadline_passed')?.value).toBe(2)
    // in time, or without a deadline, a request is taken up; a deadline that is no number is a bad request
    expect(await p.publisher.publish({ ...hook('ban', '203.0.113.31', 60), deadline: T0 + 12_000 })).toMatchObject({ published: true })
    expect(await p.publisher.publish({ ...hook('ban', '203.0.113.32', 60), deadline: 'soon' })).toMatchObject({ ok: false, code: 'bad_request' })
  })

  it('publisher: refuses protected and invalid input with a reason, and counts it', async () => {
    expect(await p.publisher.publish(hook('ban', '10.1.2.3'))).toMatchObject({ ok: false, code: 'protected_address' })
    expect(await p.publisher.publish(hook('ban', 'not-an-ip'))).toMatchObject({ ok: false, code: 'bad_address' })
    expect(p.sent).toEqual([])
    expect((await p.metrics.refused.get()).values.reduce((a, v) => a + v.value, 0)).toBe(2)
  })

  it('expiry: a timed ban becomes a tombstone when the clock passes it; the origin announces, every node unbans', async () => {
    p.receive('peerA', [ev('ban', '203.0.113.1', T0, { duration: 60 })])
    await p.publisher.publish(hook('ban', '203.0.113.2', 60))
    p.expiry.sweep()
    expect(p.runner.lines()).toEqual([`ban 203.0.113.1@${P('peerA')}`])
    p.clock.advance(60_000)
    p.expiry.sweep()
    expect(p.runner.lines()).toEqual([`ban 203.0.113.1@${P('peerA')}`, `unban 203.0.113.1@${P('peerA')}`])
    // only the own ban's tombstone goes to the mesh; the own ban runs no local script (fail2ban unbans it)
    expect(p.sent.map(e => `${e.action} ${e.ip}`)).toEqual(['ban 203.0.113.2', 'unban 203.0.113.2'])
    expect(p.ledger.active({}, p.clock.now())).toEqual([])
  })
})

describe('quorum through the receiver', () => {
  let p: ReturnType<typeof parts>
  beforeEach(() => { p = parts({ quorum: { ban: { peers: 2, windowS: 60 } } }) })
  afterEach(async () => { await p.cleanup() })

  it('holds one peer\'s report and runs the second distinct peer\'s, within the window only', () => {
    p.receive('peerA', [ev('ban', '203.0.113.1', T0)])
    p.receive('peerA', [ev('ban', '203.0.113.1', T0 + 1, { name: 'nginx' })])
    expect(p.runner.jobs).toEqual([])
    p.receive('peerB', [ev('ban', '203.0.113.1', T0 + 2, { name: 'apache' })])
    expect(p.runner.lines()).toEqual([`ban 203.0.113.1@${P('peerB')}`])
    // a report older than the window no longer counts
    p.receive('peerA', [ev('ban', '203.0.113.5', T0)])
    p.clock.advance(61_000)
    p.receive('peerB', [ev('ban', '203.0.113.5', T0 + 61_000)])
    expect(p.runner.lines()).toEqual([`ban 203.0.113.1@${P('peerB')}`])
  })

  it('holds the own report that completes a quorum, and every later one, as the peers hold them', async () => {
    p.receive('peerA', [ev('ban', '203.0.113.1', T0)])
    expect(await p.publisher.publish(hook('ban', '203.0.113.1'))).toMatchObject({ ok: true, published: true })
    expect(p.ledger.get(`ban|sshd|203.0.113.1`)?.origin).toBe(SELF)
    expect(p.held.size).toBe(2)
    p.receive('peerB', [ev('ban', '203.0.113.1', T0 + 1, { name: 'apache' })])
    expect(p.held.size).toBe(3)
    expect(p.runner.lines()).toEqual([`ban 203.0.113.1@${P('peerB')}`])
  })

  it('suppresses a repeat of an own report only until the quorum is reached; an own ban\'s expiry withdraws it', async () => {
    expect(await p.publisher.publish(hook('ban', '203.0.113.2', 10))).toMatchObject({ published: true })
    expect(await p.publisher.publish(hook('ban', '203.0.113.2', 10))).toEqual({ ok: true, published: false })
    p.receive('peerA', [ev('ban', '203.0.113.2', T0, { name: 'nginx' })])
    expect(p.held.size).toBe(2)
    // the quorum is reached: another jail's report of the address is a ban of its own
    expect(await p.publisher.publish(hook('ban', '203.0.113.2', 10))).toMatchObject({ published: true })
    expect(p.ledger.get(`ban|sshd|203.0.113.2`)?.origin).toBe(SELF)
    p.clock.advance(11_000)
    p.expiry.sweep()
    // the announced tombstone withdraws this node's report, as it does on the peers it reaches
    await pWaitFor(() => p.held.size === 1, { interval: 1, timeout: 1000 })
    expect(p.held.has(`ban|203.0.113.2|${P('peerA')}`)).toBe(true)
  })
})

describe('quorum of removals (unbanAuthority: quorum)', () => {
  let p: ReturnType<typeof parts>
  beforeEach(() => { p = parts({ removals: { peers: 2, windowS: 60 } }) })
  afterEach(async () => { await p.cleanup() })

  it('holds the own unban that completes the removal quorum, as the peers hold it', async () => {
    p.receive('peerA', [ev('ban', '203.0.113.3', T0)])
    p.receive('peerB', [ev('unban', '203.0.113.3', T0 + 1)])
    expect(p.held.size).toBe(1)
    expect(await p.publisher.publish({ ...hook('unban', '203.0.113.3'), manual: true })).toMatchObject({ ok: true, published: true })
    expect(p.ledger.get('ban|sshd|203.0.113.3')?.origin).toBe(SELF)
    expect(p.held.size).toBe(2)
    expect(p.runner.lines()).toEqual([`ban 203.0.113.3@${P('peerA')}`])
  })
})

describe('control handlers', () => {
  const handler = controlHandler({
    publish: async () => ({ ok: true, published: true }),
    status: async () => { throw new Error('not asked') },
    peers: () => [],
    list: q => [{ action: 'ban', name: String(q.name), protocol: 'tcp', port: '22', ip: '203.0.113.1', time: T0, duration: 0, origin: 'peerA' }],
    repin: entry => entry === 'fw2.example.org'
  })

  it('dispatches by op and answers malformed requests instead of throwing', async () => {
    expect(await handler({ op: 'list', name: 'sshd' })).toMatchObject({ ok: true, entries: [{ name: 'sshd' }] })
    expect(await handler({ op: 'repin', peer: 'fw2.example.org' })).toEqual({ ok: true })
    expect(await handler({ op: 'repin', peer: 'fw9.example.org' })).toMatchObject({ ok: false, code: 'not_found' })
    expect(await handler({ op: 'repin', peer: 42 } as never)).toMatchObject({ ok: false, code: 'not_found', error: 'no first-use pin for number' })
    expect(await handler({ op: 'reboot' } as never)).toMatchObject({ ok: false, code: 'bad_request' })
  })
})
