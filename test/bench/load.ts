import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ControlClient } from '@fst/cli'
import { parseAddress } from '@fst/protocol'
import pWaitFor from 'p-wait-for'
import type { Mesh } from '../utils/mesh.js'

/** Addresses in 198.18.0.0/15. */
const BENCH_V4 = 1 << 17

/**
 * The i-th benchmark address, distinct for every i: 198.18.0.0/15 (RFC 2544) for the first 131,072, then
 * 2001:2::/48 (RFC 5180). A wrapped-around address would be a duplicate ban, which the node accepts without
 * publishing anything (echo suppression), and the load would shrink without the figures showing it.
 */
export function benchIp (i: number): string {
  if (i < BENCH_V4) return `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`
  const j = i - BENCH_V4
  // in canonical text, as the node hands it to scripts: the latency logs are matched by text, and
  // `2001:2:0:0::5` (the node writes `2001:2::5`) left 65,536 bans out of the latency figures
  const parsed = parseAddress(`2001:2:0:${(Math.floor(j / 65_536) % 65_536).toString(16)}::${(j % 65_536).toString(16)}`)
  if (!parsed.valid) throw new Error(parsed.error)
  return parsed.value.text
}

export interface FeedResult {
  /** Accept time (the event's issue time, ms) by address. */
  accepted: Map<string, number>
  refused: number
  firstSentMs: number
}

/**
 * Feeds `count` bans to a node's control socket at `rate` per second (Infinity: as fast as the socket takes
 * them), pipelined on one connection like `fst publish --stdin`. Pacing is by wall clock in 10 ms slots.
 */
export async function feed (socket: string, count: number, rate: number, offset = 0): Promise<FeedResult> {
  const client = await ControlClient.connect(socket)
  const accepted = new Map<string, number>()
  let refused = 0
  const answers: Array<Promise<void>> = []
  const firstSentMs = Date.now()
  const firstSlot = performance.now()
  // at most 100 slots a second; below 100/s one event per slot
  const perSlot = Number.isFinite(rate) ? Math.max(1, Math.round(rate / 100)) : 1000
  for (let sent = 0; sent < count;) {
    for (let k = 0; k < perSlot && sent < count; k++, sent++) {
      const ip = benchIp(offset + sent)
      answers.push(client.request({ op: 'publish', action: 'ban', name: 'bench', protocol: 'tcp', port: '22', ip }).then(a => {
        if (a.ok && typeof a.time === 'number') accepted.set(ip, a.time)
        else refused++
      }))
    }
    if (client.congested) await client.drain()
    if (answers.length > 20_000) await Promise.all(answers.splice(0))
    if (Number.isFinite(rate)) {
      // pace by the schedule, not by the slot: late slots catch up instead of drifting
      const wait = firstSlot + (sent / rate) * 1000 - performance.now()
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    }
  }
  await Promise.all(answers)
  client.close()
  return { accepted, refused, firstSentMs }
}

/** Latency samples (ms) from every receiving node's lat.log, and the addresses each node saw. */
export function readLatencies (mesh: Mesh, receivers: number[], accepted: Map<string, number>) {
  const samples: number[] = []
  const seen: number[] = []
  let lastStartMs = 0
  for (const i of receivers) {
    const file = join(mesh.nodes[i]!.dir, 'lat.log')
    const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
    const ips = new Set<string>()
    for (const line of lines) {
      const [ip, us] = line.split(' ')
      const sent = accepted.get(ip!)
      if (sent === undefined || ips.has(ip!)) continue
      ips.add(ip!)
      const startMs = Number(us) / 1000
      lastStartMs = Math.max(lastStartMs, startMs)
      samples.push(startMs - sent)
    }
    seen.push(ips.size)
  }
  return { samples, seen, lastStartMs }
}

export function lineCount (mesh: Mesh, index: number): number {
  const file = join(mesh.nodes[index]!.dir, 'lat.log')
  if (!existsSync(file)) return 0
  const text = readFileSync(file, 'utf8')
  let n = 0
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++
  return n
}

/** Waits until every receiver recorded `count` script starts, or the timeout passes (losses are then counted). */
export async function waitForLines (mesh: Mesh, receivers: number[], count: number, timeoutMs: number): Promise<boolean> {
  return pWaitFor(() => receivers.every(i => lineCount(mesh, i) >= count), { interval: 25, timeout: timeoutMs }).then(() => true, () => false)
}

export function socketOf (mesh: Mesh, index: number): string {
  return mesh.socket(index)
}
