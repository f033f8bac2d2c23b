/**
 * `pnpm bench --soak [minutes]`: five real nodes on loopback under a steady load of bans (with expiries and
 * unbans by their origin) while one node is killed with SIGKILL and restarted every minute. Samples memory,
 * file descriptors and the ledger of every node, and checks at the end that every acknowledged ban reached
 * every node that was up while it was live, once (soak-verdict.ts has the rules).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { ask, ControlClient } from '@fst/cli'
import type { ControlResponse } from '@fst/protocol'
import pWaitFor from 'p-wait-for'
import { FST_ACTION, Mesh, type RunResult, runBin, writeNodeConfig } from '../utils/mesh.js'
import { benchIp } from './load.js'
import { mulberry32 } from './sim-model.js'
import { type AckedBan, deliveryVerdict, type LedgerState, ledgerVerdict, type Life, type Point, pooledSlope, type ScriptRun, slope } from './soak-verdict.js'
import { childPids, progress, round, RSS_PARTS, rssMb, type RssParts, rssPartsMb } from './stats.js'

export interface SoakOptions {
  minutes: number
  /** Where the raw material goes (every node's runs.log, the acknowledged bans, the node logs); null: nowhere. */
  debugDir: string | null
  /** Bans per second through the control sockets. */
  rate: number
  seed: number
}

const NODES = 5
/** Node 0 is never killed: the only process that lives the whole run, so its RSS slope is a leak measure. */
const WITNESS = 0
const KILL_EVERY_MS = 60_000
const SAMPLE_EVERY_MS = 20_000
/** Hook calls (real `fst-action` processes) per second, on top of the control-socket load. */
const HOOK_EVERY_MS = 1000
/** Hook calls made to the killed node while it is down: they must be queued in its spool and published at its start. */
const HOOKS_WHILE_DOWN = 3
const DURATION_S = { min: 30, max: 120 }
/** Share of bans their origin unbans before they expire, after 5-25 s. */
const UNBAN_SHARE = 0.2
const UNBAN_AFTER_S = { min: 5, max: 25 }
/** A node up, with a ban live, for this long without a break must have run it (gossip, else catch-up on connect). */
const GRACE_MS = 15_000
const REQUEST_TIMEOUT_MS = 5000
/** Addresses of the soak, apart from the other scenarios'. */
const OFFSET = 1_000_000
const NAME = 'soak'
const MAX_REMOVALS = 2000
/** Longest wait at the end for every runner's queue to empty. */
const DRAIN_MS = 8 * 60_000

/** Batch recording script for ban.d and unban.d: one `<action> <ip> <life> <batch start, ms>` line per event. */
const RECORD = `#!/bin/sh
t=$(date +%s%3N)
while read -r name protocol port ip duration; do printf '%s %s %s %s\\n' "$FST_ACTION" "$ip" "$SOAK_LIFE" "$t"; done >> ../../runs.log
`

interface Sample {
  minute: number
  node: number
  life: number
  rssMb: number | null
  /** Where the RSS lies (/proc/PID/smaps): V8's pages beside heapTotal show what V8 pools. */
  rssParts: RssParts | null
  heapUsedMb: number | null
  heapTotalMb: number | null
  fds: number | null
  lmdbMb: number | null
  entries: number | null
  active: number | null
  spool: number | null
  /** Events waiting for the runner (its scripts behind the ledger). */
  queue: number | null
}

interface Ack { ip: string, origin: number, via: 'socket' | 'hook' | 'spool', ackMs: number, endMs: number, durationS: number }

function nodeConfig (life: number): Record<string, unknown> {
  // a steady state within the first minutes: each origin keeps its newest 2,000 removals (~10 a second
  // each here), so the ledger holds the active set plus at most 5 × 2,000 tombstones. With the default
  // 50,000 it would grow for ~80 minutes at this rate, and memory with it, hiding a leak behind the growth
  return { logLevel: 'info', spool: { dir: 'spool' }, scriptEnv: { SOAK_LIFE: String(life) }, limits: { maxRemovalsPerOrigin: MAX_REMOVALS } }
}

function fdCount (pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return null
  }
}

function fileMb (file: string): number | null {
  try {
    return round(statSync(file).size / 1024 / 1024, 2)
  } catch {
    return null
  }
}

/**
 * Whether a process still runs: not gone, not a zombie waiting for init to reap it, not past releasing its
 * memory on the way out (its cmdline reads empty then; a fork server's never is: it names itself).
 */
function stillRuns (pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]
    return state !== 'Z' && state !== 'X' && readFileSync(`/proc/${pid}/cmdline`).length > 0
  } catch {
    return false
  }
}

function commandLine (pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 120)
  } catch {
    return '(gone)'
  }
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

export async function soak (opts: SoakOptions) {
  const random = mulberry32(opts.seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  const between = (r: { min: number, max: number }) => r.min + random() * (r.max - r.min)
  const mesh = await Mesh.create({ nodes: NODES, actions: [], batchScripts: true, start: false, config: () => nodeConfig(0) })
  for (const n of mesh.nodes) for (const action of ['ban', 'unban']) mesh.addScript(n.index, action, '50-record', RECORD)
  const started = Date.now()
  const endAt = started + opts.minutes * 60_000
  const minute = () => round((Date.now() - started) / 60_000, 2)
  let stopping = false
  const interrupted = () => {
    if (stopping) process.exit(130)
    stopping = true
    progress('soak: interrupted, stopping the nodes')
    mesh.stop().finally(() => process.exit(130))
  }
  process.on('SIGINT', interrupted)
  process.on('SIGTERM', interrupted)

  let lifeCounter = 0
  const lives: Life[] = []
  const current = new Map<number, { life: number, fromMs: number }>()
  const up = () => [...current.keys()]
  const conns = new Map<number, Promise<ControlClient | null>>()
  const acks: Ack[] = []
  const unbans: Array<{ at: number, ack: Ack }> = []
  const samples: Sample[] = []
  const loads: Array<{ minute: number, loadavg: number[] }> = []
  const counts = { offered: 0, refused: 0, unanswered: 0, hookCalls: 0, hookFailed: 0, spooled: 0, spooledWhileDown: 0, unbans: 0, unbansSpooled: 0, unbanFailed: 0, kills: 0, restartFailures: 0, orphans: 0 }
  const earlierLogs: string[] = []
  const killLog: Array<{ minute: number, node: number, life: number, queue: number | null, spool: number | null, downS: number | null }> = []
  const hookCodes: Record<string, number> = {}
  const hookErrors: string[] = []
  const noteHookFailure = (out: RunResult) => {
    hookCodes[out.code] = (hookCodes[out.code] ?? 0) + 1
    if (hookErrors.length < 10) hookErrors.push(`${out.code}: ${`${out.stdout}${out.stderr}`.trim().slice(0, 300)}`)
  }
  const startFailures: Array<{ node: number, life: number, minute: number, output: string }> = []
  const inFlight = new Set<Promise<unknown>>()
  const track = <T>(p: Promise<T>) => {
    inFlight.add(p)
    p.finally(() => inFlight.delete(p)).catch(() => {})
    return p
  }

  const start = async (node: number) => {
    const life = ++lifeCounter
    const n = mesh.nodes[node]!
    writeNodeConfig(n.configFile, `127.0.0.1:${n.port}`, nodeConfig(life))
    for (let attempt = 1; ; attempt++) {
      try {
        await mesh.startNode(node)
        break
      } catch (err) {
        counts.restartFailures++
        const text = (err as Error).message
        startFailures.push({ node, life, minute: minute(), output: text.slice(-4000) })
        progress(`  node ${node} did not start (attempt ${attempt}): ${text.split('\n').slice(0, 1).join('')}\n${text.split('\n').slice(1).filter(Boolean).slice(-12).join('\n')}`)
        await mesh.stopNode(node, 'SIGKILL')
        if (attempt >= 3) throw err
      }
    }
    current.set(node, { life, fromMs: Date.now() })
  }
  const kill = async (node: number) => {
    const c = current.get(node)
    if (c === undefined) return
    current.delete(node)
    conns.get(node)?.then(c => c?.destroy())
    conns.delete(node)
    lives.push({ node, run: c.life, fromMs: c.fromMs, toMs: Date.now(), killed: true })
    const pid = mesh.nodes[node]!.process?.pid
    const helpers = pid === undefined ? [] : childPids(pid)
    await mesh.stopNode(node, 'SIGKILL')
    // the fork server (and any script) must not outlive its node: it reads the node's pipe and ends at EOF
    if (helpers.length > 0) {
      await sleep(2000)
      const alive = helpers.filter(stillRuns)
      counts.orphans += alive.length
      for (const h of alive) {
        progress(`  node ${node}'s helper ${h} outlived it: ${commandLine(h)}`)
        try { process.kill(h, 'SIGKILL') } catch {}
      }
    }
  }

  /** A request on a node's pipelined control connection; a kill or a stall closes it and answers null. */
  const request = async (node: number, req: Parameters<ControlClient['request']>[0]): Promise<ControlResponse | null> => {
    // one connection per node, shared by the requests that arrive while it is being opened
    let connecting = conns.get(node)
    if (connecting === undefined) {
      connecting = ControlClient.connect(mesh.socket(node)).catch(() => null)
      conns.set(node, connecting)
    }
    const client = await connecting
    if (client === null) {
      if (conns.get(node) === connecting) conns.delete(node)
      return null
    }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<null>(resolve => { timer = setTimeout(() => resolve(null), REQUEST_TIMEOUT_MS) })
    // as the hook does: a report the node reads after we gave up (and maybe handed it to the hook) is refused
    const timed = req.op === 'publish' ? { ...req, deadline: Date.now() + REQUEST_TIMEOUT_MS - 1000 } : req
    const answer = await Promise.race([client.request(timed), late])
    clearTimeout(timer)
    if (answer === null || (!answer.ok && answer.code === 'closed')) {
      client.destroy()
      if (conns.get(node) === connecting) conns.delete(node)
      return null
    }
    return answer
  }

  let nextIp = 0
  const newBan = () => ({ ip: benchIp(OFFSET + nextIp++), durationS: Math.round(between(DURATION_S)) })
  const scheduleUnban = (ack: Ack) => {
    if (random() >= UNBAN_SHARE) return
    const at = ack.ackMs + between(UNBAN_AFTER_S) * 1000
    if (at < ack.endMs - 5000) unbans.push({ at, ack })
  }
  const hook = (node: number, args: string[]): Promise<RunResult> => runBin(FST_ACTION, ['--config', mesh.nodes[node]!.configFile, ...args])
  const hookBan = async (node: number, whileDown: boolean) => {
    const { ip, durationS } = newBan()
    const calledMs = Date.now()
    counts.hookCalls++
    const out = await hook(node, ['ban', NAME, 'tcp', '22', ip, String(durationS)])
    if (out.code !== 0) {
      counts.hookFailed++
      noteHookFailure(out)
      return
    }
    const queued = `${out.stdout}${out.stderr}`.includes('queued')
    if (queued) counts.spooled++
    if (queued && whileDown) counts.spooledWhileDown++
    // a queued report keeps the time it was made; a published one is stamped by the node during the call
    const ack: Ack = { ip, origin: node, via: queued ? 'spool' : 'hook', ackMs: queued ? calledMs : Date.now(), endMs: calledMs + durationS * 1000, durationS }
    acks.push(ack)
    scheduleUnban(ack)
  }
  const unban = async (ack: Ack) => {
    counts.unbans++
    const req = { op: 'publish' as const, action: 'unban', name: NAME, protocol: 'tcp', port: '22', ip: ack.ip }
    if (current.has(ack.origin)) {
      const answer = await request(ack.origin, req)
      if (answer?.ok === true && typeof answer.time === 'number') {
        ack.endMs = Math.min(ack.endMs, answer.time)
        return
      }
    }
    // the origin is down (or went down): its hook queues the unban, published when it starts
    const calledMs = Date.now()
    const out = await hook(ack.origin, ['unban', NAME, 'tcp', '22', ack.ip])
    if (out.code !== 0) {
      counts.unbanFailed++
      noteHookFailure(out)
      return
    }
    if (`${out.stdout}${out.stderr}`.includes('queued')) counts.unbansSpooled++
    ack.endMs = Math.min(ack.endMs, calledMs)
  }

  const sample = async () => {
    const at = minute()
    for (const [node, c] of current) {
      const pid = mesh.nodes[node]!.process?.pid
      const status = await ask(mesh.socket(node), { op: 'status' }, REQUEST_TIMEOUT_MS).catch(() => null)
      const s = status?.ok === true ? status as unknown as { queue: number, ledger: { entries: number, active: number }, memory?: { heapUsedMb: number, heapTotalMb: number }, spool?: { depth: number } } : null
      samples.push({
        minute: at,
        node,
        life: c.life,
        rssMb: pid === undefined ? null : rssMb(pid),
        rssParts: pid === undefined ? null : rssPartsMb(pid),
        heapUsedMb: s?.memory?.heapUsedMb ?? null,
        heapTotalMb: s?.memory?.heapTotalMb ?? null,
        fds: pid === undefined ? null : fdCount(pid),
        lmdbMb: fileMb(join(mesh.nodes[node]!.dir, 'state/ledger/data.mdb')),
        entries: s?.ledger.entries ?? null,
        active: s?.ledger.active ?? null,
        spool: s?.spool?.depth ?? null,
        queue: s?.queue ?? null
      })
    }
    loads.push({ minute: at, loadavg: loadavg().map(l => round(l, 2)) })
  }

  try {
    await Promise.all(mesh.nodes.map(n => start(n.index)))
    await mesh.waitConnected(60_000)
    progress(`soak: ${NODES} nodes up, ${opts.rate} bans/s for ${opts.minutes} min, a kill every ${KILL_EVERY_MS / 1000} s`)
    await sample()

    const banLoop = async () => {
      const loopStart = performance.now()
      for (let sent = 0; Date.now() < endAt && !stopping; sent++) {
        const due = unbans.filter(u => u.at <= Date.now())
        for (const u of due) {
          unbans.splice(unbans.indexOf(u), 1)
          track(unban(u.ack))
        }
        const origins = up()
        if (origins.length > 0) {
          const origin = pick(origins)
          const { ip, durationS } = newBan()
          counts.offered++
          track(request(origin, { op: 'publish', action: 'ban', name: NAME, protocol: 'tcp', port: '22', ip, duration: durationS }).then(answer => {
            if (answer === null) counts.unanswered++
            else if (!answer.ok || typeof answer.time !== 'number') counts.refused++
            else {
              const ack: Ack = { ip, origin, via: 'socket', ackMs: answer.time, endMs: answer.time + durationS * 1000, durationS }
              acks.push(ack)
              scheduleUnban(ack)
            }
          }))
        }
        const wait = loopStart + ((sent + 1) / opts.rate) * 1000 - performance.now()
        if (wait > 0) await sleep(wait)
      }
    }
    const hookLoop = async () => {
      while (Date.now() < endAt && !stopping) {
        track(hookBan(pick(mesh.nodes.map(n => n.index)), false))
        await sleep(HOOK_EVERY_MS)
      }
    }
    const killLoop = async () => {
      for (let next = Date.now() + KILL_EVERY_MS; next < endAt && !stopping; next += KILL_EVERY_MS) {
        await sleep(next - Date.now())
        if (Date.now() >= endAt || stopping) break
        const victims = up().filter(n => n !== WITNESS)
        if (victims.length === 0) continue
        const victim = pick(victims)
        // what the victim still had to do when it died: its runner's queue and its spool
        const before = await ask(mesh.socket(victim), { op: 'status' }, REQUEST_TIMEOUT_MS).catch(() => null) as { ok: boolean, queue?: number, spool?: { depth: number } } | null
        const killedLife = current.get(victim)?.life ?? 0
        const killedMs = Date.now()
        // the node's log of this life (a restart starts a new one): where a loss before a kill shows
        earlierLogs[victim] = `${earlierLogs[victim] ?? ''}${mesh.nodes[victim]!.log()}\n--- killed (life ${killedLife}) ---\n`
        await kill(victim)
        counts.kills++
        // reports made while it is down: the hook queues them, the node publishes them when it starts
        await Promise.all(Array.from({ length: HOOKS_WHILE_DOWN }, () => track(hookBan(victim, true))))
        await start(victim)
        killLog.push({ minute: round((killedMs - started) / 60_000, 2), node: victim, life: killedLife, queue: before?.queue ?? null, spool: before?.spool?.depth ?? null, downS: round((Date.now() - killedMs) / 1000, 1) })
        progress(`  minute ${minute()}: node ${victim} killed and restarted (life ${current.get(victim)?.life})`)
      }
    }
    const sampleLoop = async () => {
      for (let next = started + SAMPLE_EVERY_MS; next < endAt && !stopping; next += SAMPLE_EVERY_MS) {
        await sleep(next - Date.now())
        await sample()
        if (Math.round(minute() * 3) % 3 === 0) {
          const last = samples.filter(s => s.minute === samples.at(-1)!.minute)
          progress(`  minute ${Math.round(minute())}: acked ${acks.length}, load ${loads.at(-1)!.loadavg.join(' ')}; ${last.map(s => `n${s.node} ${s.rssMb} MB ${s.fds} fd ${s.entries} entries q ${s.queue}`).join(', ')}`)
        }
      }
    }
    await Promise.all([banLoop(), hookLoop(), killLoop(), sampleLoop()])
    const loadStoppedMs = Date.now()
    await Promise.all([...inFlight])
    progress(`soak: load stopped at minute ${minute()}; ${acks.length} bans acknowledged, ${unbans.length} unbans not yet due dropped`)

    // every node up, the ledgers agreed (expiries go on meanwhile: roots may differ for a moment), scripts done
    for (const n of mesh.nodes) if (!current.has(n.index)) await start(n.index)
    const statuses = () => Promise.all(mesh.nodes.map(n => mesh.status(n.index)))
    // a loaded machine leaves the runners behind the ledgers: their queues drain first (bounded), then the roots
    let lastNote = Date.now()
    const drained = await pWaitFor(async () => {
      const s = await statuses()
      if (Date.now() - lastNote > 30_000) {
        lastNote = Date.now()
        progress(`  draining: runner queues ${s.map(x => x.queue).join(' ')}, spools ${s.map(x => x.spool?.depth ?? 0).join(' ')}`)
      }
      return s.every(x => x.queue === 0 && (x.spool?.depth ?? 0) === 0)
    }, { interval: 1000, timeout: DRAIN_MS }).then(() => true, () => false)
    const drainedS = round((Date.now() - loadStoppedMs) / 1000)
    const agreed = await pWaitFor(async () => {
      const s = await statuses()
      return s.every(x => x.ledger.root === s[0]!.ledger.root)
    }, { interval: 500, timeout: 30_000 }).then(() => true, () => false)
    progress(`soak: queues ${drained ? 'drained' : 'NOT drained'} ${drainedS} s after the load stopped; roots ${agreed ? 'agree' : 'differ'}`)
    await sleep(Math.max(0, loadStoppedMs + GRACE_MS - Date.now()))
    await sample()
    const checkedMs = Date.now()
    for (const [node, c] of current) lives.push({ node, run: c.life, fromMs: c.fromMs, toMs: checkedMs })
    const ledgers: Array<Map<string, LedgerState & { time: number, origin: string }>> = []
    for (const n of mesh.nodes) {
      const answer = await ask(mesh.socket(n.index), { op: 'list', all: true, name: NAME }, 60_000)
      const entries = answer.ok ? answer.entries as Array<{ action: string, ip: string, time: number, origin: string }> : []
      ledgers.push(new Map(entries.map(e => [e.ip, { action: e.action, time: e.time, origin: e.origin }])))
    }
    // keys on which a node's ledger differs from node 0's (action, issue time or origin)
    const diffExamples: string[] = []
    const ledgerDiffs = ledgers.map((l, node) => {
      let differ = 0
      for (const [ip, e] of ledgers[0]!) {
        const o = l.get(ip)
        if (o === undefined || o.action !== e.action || o.time !== e.time || o.origin !== e.origin) {
          differ++
          if (diffExamples.length < 10) diffExamples.push(`${ip}: node 0 ${JSON.stringify(e)}, node ${node} ${JSON.stringify(o ?? null)}`)
        }
      }
      return differ + [...l.keys()].filter(ip => !ledgers[0]!.has(ip)).length
    })
    const runs = readRuns(mesh)
    const bans = ackedBans(acks, lives)
    if (opts.debugDir !== null) {
      mkdirSync(opts.debugDir, { recursive: true })
      for (const n of mesh.nodes) {
        if (existsSync(join(n.dir, 'runs.log'))) copyFileSync(join(n.dir, 'runs.log'), join(opts.debugDir, `runs-${n.index}.log`))
        writeFileSync(join(opts.debugDir, `node-${n.index}.log`), `${earlierLogs[n.index] ?? ''}${n.log()}`)
      }
      const available = new Map(bans.map(b => [b.ip, b.availableMs]))
      writeFileSync(join(opts.debugDir, 'acks.ndjson'), acks.map(a => JSON.stringify({ ...a, availableMs: available.get(a.ip) })).join('\n'))
      writeFileSync(join(opts.debugDir, 'lives.json'), JSON.stringify(lives))
    }
    return { ...summarise({ opts, acks, bans, lives, runs, ledgers, samples, loads, counts, agreed, checkedMs, started }), drained, drainedS, ledgerDiffs, ledgerDiffExamples: diffExamples, kills: killLog, hookCodes, hookErrors, startFailures }
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    for (const c of conns.values()) c.then(client => client?.destroy())
    await mesh.stop()
  }
}

/** The recording scripts' lines of every node. */
function readRuns (mesh: Mesh): ScriptRun[] {
  const out: ScriptRun[] = []
  for (const n of mesh.nodes) {
    let text = ''
    try {
      text = readFileSync(join(n.dir, 'runs.log'), 'utf8')
    } catch {}
    for (const line of text.split('\n')) {
      const [action, ip, life] = line.split(' ')
      if ((action === 'ban' || action === 'unban') && ip !== undefined && life !== undefined) out.push({ node: n.index, run: Number(life), action, ip })
    }
  }
  return out
}

/** A queued report is available from its origin's next start on; every other from its acknowledgement. */
function ackedBans (acks: readonly Ack[], lives: readonly Life[]): AckedBan[] {
  return acks.map(a => {
    const next = a.via === 'spool' ? lives.filter(l => l.node === a.origin && l.fromMs >= a.ackMs).sort((x, y) => x.fromMs - y.fromMs)[0] : undefined
    return { ip: a.ip, origin: a.origin, availableMs: next?.fromMs ?? a.ackMs, endMs: a.endMs }
  })
}

interface SummaryInput {
  opts: SoakOptions
  acks: Ack[]
  bans: AckedBan[]
  lives: Life[]
  runs: ScriptRun[]
  ledgers: Array<Map<string, LedgerState>>
  samples: Sample[]
  loads: Array<{ minute: number, loadavg: number[] }>
  counts: Record<string, number>
  agreed: boolean
  checkedMs: number
  started: number
}

/** Slopes are fitted after this many minutes (10 in an hour's run; a fifth of a shorter one). */
export function warmUpMinutes (minutes: number): number {
  return Math.min(10, minutes / 5)
}

function summarise (x: SummaryInput) {
  const warm = warmUpMinutes(x.opts.minutes)
  const perNode = Array.from({ length: NODES }, (_, node) => {
    const mine = x.samples.filter(s => s.node === node)
    const first = mine[0]
    const last = mine.at(-1)
    const late = mine.filter(s => s.minute >= warm && s.rssMb !== null)
    const points = (s: Sample[], f: (s: Sample) => number | null): Point[] => s.filter(p => f(p) !== null).map(p => ({ t: p.minute / 60, y: f(p)! }))
    // the witness lives the whole run: one line; the others restart, so their lives are fitted apart
    // (after their first minute, which holds the start-up)
    const lifeFrom = new Map(x.lives.filter(l => l.node === node).map(l => [l.run, (l.fromMs - x.started) / 60_000]))
    const byLife = [...new Set(late.map(s => s.life))].map(life => points(late.filter(s => s.life === life && s.minute >= (lifeFrom.get(life) ?? 0) + 1), s => s.rssMb))
    const rssSlope = node === WITNESS ? slope(points(late, s => s.rssMb)) : pooledSlope(byLife)
    const heapSlope = node === WITNESS ? slope(points(late, s => s.heapUsedMb)) : null
    const fdSlope = node === WITNESS ? slope(points(late, s => s.fds)) : null
    const partSlopes = node !== WITNESS
      ? null
      : Object.fromEntries(RSS_PARTS.map(part => {
        const fit = slope(points(late, s => s.rssParts?.[part] ?? null))
        return [part, fit === null ? null : round(fit, 2)]
      }))
    const d = deliveryVerdict(x.bans, x.lives.filter(l => l.node === node), x.runs.filter(r => r.node === node), GRACE_MS)
    const fds = mine.map(s => s.fds).filter((f): f is number => f !== null)
    return {
      node,
      witness: node === WITNESS,
      lives: x.lives.filter(l => l.node === node).length,
      rssStartMb: first?.rssMb ?? null,
      rssEndMb: last?.rssMb ?? null,
      rssMaxMb: Math.max(...mine.map(s => s.rssMb ?? 0)),
      rssAtWarmUpMb: late[0]?.rssMb ?? null,
      rssSlopeMbPerHour: rssSlope === null ? null : round(rssSlope, 2),
      heapUsedStartMb: first?.heapUsedMb ?? null,
      heapUsedEndMb: last?.heapUsedMb ?? null,
      heapUsedSlopeMbPerHour: heapSlope === null ? null : round(heapSlope, 2),
      rssPartsEndMb: last?.rssParts ?? null,
      rssPartSlopesMbPerHour: partSlopes,
      fdsStart: first?.fds ?? null,
      fdsEnd: last?.fds ?? null,
      fdsMax: fds.length === 0 ? null : Math.max(...fds),
      fdSlopePerHour: fdSlope === null ? null : round(fdSlope, 2),
      queueMax: Math.max(0, ...mine.map(s => s.queue ?? 0)),
      lmdbMbEnd: last?.lmdbMb ?? null,
      entriesEnd: last?.entries ?? null,
      activeEnd: last?.active ?? null,
      lmdbBytesPerEntryEnd: last?.lmdbMb == null || !last.entries ? null : Math.round((last.lmdbMb * 1024 * 1024) / last.entries),
      delivery: d
    }
  })
  const ledger = ledgerVerdict(x.bans, x.ledgers, x.checkedMs, GRACE_MS)
  const sum = (f: (n: typeof perNode[number]) => number) => perNode.reduce((a, n) => a + f(n), 0)
  const witness = perNode[WITNESS]!
  return {
    mode: 'soak',
    minutes: x.opts.minutes,
    rate: x.opts.rate,
    seed: x.opts.seed,
    started: new Date(x.started).toISOString(),
    nodes: NODES,
    witness: WITNESS,
    warmUpMinutes: warm,
    graceS: GRACE_MS / 1000,
    maxRemovalsPerOrigin: MAX_REMOVALS,
    counts: { ...x.counts, acknowledged: x.acks.length, bySocket: x.acks.filter(a => a.via === 'socket').length, byHook: x.acks.filter(a => a.via === 'hook').length, queued: x.acks.filter(a => a.via === 'spool').length },
    ledgersAgreedAtEnd: x.agreed,
    lost: sum(n => n.delivery.lost),
    duplicated: sum(n => n.delivery.duplicated),
    droppedByKill: sum(n => n.delivery.droppedByKill),
    unbanLost: sum(n => n.delivery.unbanLost),
    unbanDroppedByKill: sum(n => n.delivery.unbanDroppedByKill),
    unbanDuplicated: sum(n => n.delivery.unbanDuplicated),
    ledger,
    targets: {
      lost: sum(n => n.delivery.lost) === 0 && ledger.missing === 0 && ledger.wrong === 0,
      duplicated: sum(n => n.delivery.duplicated) === 0 && sum(n => n.delivery.unbanDuplicated) === 0,
      rssSlope: witness.rssSlopeMbPerHour !== null && witness.rssSlopeMbPerHour <= 2
    },
    perNode,
    loadavg: x.loads,
    samples: x.samples,
    lives: x.lives.map(l => ({ ...l, fromMin: round((l.fromMs - x.started) / 60_000, 2), toMin: round((l.toMs - x.started) / 60_000, 2) }))
  }
}
