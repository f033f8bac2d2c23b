import { execFile, spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { ActionRunner } from '@fst/node'
import type { FstEvent } from '@fst/protocol'
import pWaitFor from 'p-wait-for'
import { pino } from 'pino'
import { ROOT } from '../utils/mesh.js'
import { benchIp } from './load.js'

/**
 * Received bans applied through fail2ban: the shipped `.batch` scripts (a few fail2ban-client calls per
 * batch) against the old path, one per-event script and one `fail2ban-client … banip <ip>` per address.
 * Both run in the real ActionRunner against a self-contained fail2ban-server, in a jail without actions
 * (`bare`: fail2ban's own cost) and in one whose action is a shell command per address (`rec`, standing in
 * for iptables). The old path runs on a sample and is extrapolated.
 *
 *   npx tsx test/bench/fail2ban-apply.ts [--count 10000] [--sample 300]
 */
const run = promisify(execFile)
const { values } = parseArgs({ options: { count: { type: 'string', default: '10000' }, sample: { type: 'string', default: '300' } } })
const COUNT = Number(values.count)
const SAMPLE = Number(values.sample)
// received messages carry up to a few hundred events; the runner merges queued ones (≤ 20,000)
const MESSAGE_EVENTS = 100

const dir = mkdtempSync(join(tmpdir(), 'fst-f2b-apply-'))
const sock = join(dir, 'f2b.sock')
const client = (args: string[]) => run('fail2ban-client', ['-s', sock, ...args], { maxBuffer: 64 << 20 })

function writeServerConfig (): void {
  mkdirSync(join(dir, 'action.d'))
  mkdirSync(join(dir, 'filter.d'))
  writeFileSync(join(dir, 'fail2ban.conf'), `[Definition]\nloglevel = WARNING\nlogtarget = ${join(dir, 'f2b.log')}\nsocket = ${sock}\npidfile = ${join(dir, 'f2b.pid')}\ndbfile = :memory:\n`)
  writeFileSync(join(dir, 'action.d/record.conf'), `[Definition]\nactionban = printf '%%s\\n' '<ip>' >> '${join(dir, 'fw.log')}'\nactionunban = printf '%%s\\n' '<ip>' >> '${join(dir, 'fw.log')}'\n`)
  writeFileSync(join(dir, 'jail.conf'), '[DEFAULT]\nbackend = polling\nusedns = no\nfilter =\nlogpath = /dev/null\nbantime = 3600\n[bare]\nenabled = true\naction =\n[rec]\nenabled = true\naction = record\n')
}

/** The pre-batch shipped path with FST_FAIL2BAN_JAIL set (its cheapest case): one client call per event. */
function writeOldActions (): string {
  const actions = join(dir, 'old-actions')
  for (const [action, command] of [['ban', 'banip'], ['unban', 'unbanip']]) {
    mkdirSync(join(actions, `${action}.d`), { recursive: true })
    const script = join(actions, `${action}.d`, '50-fail2ban')
    writeFileSync(script, `#!/bin/sh\nexec fail2ban-client -s "$FST_FAIL2BAN_SOCKET" set "$FST_FAIL2BAN_JAIL" ${command} "$4"\n`)
    chmodSync(script, 0o755)
  }
  return actions
}

/** Seconds to apply `count` events of `action` through the runner, fed as queued messages. */
async function apply (actionsDir: string, jail: string, action: string, offset: number, count: number): Promise<number> {
  const runner = new ActionRunner({ actionsDir, timeoutMs: 3_600_000, extraEnv: { FST_FAIL2BAN_SOCKET: sock, FST_FAIL2BAN_JAIL: jail }, log: pino({ level: 'warn' }) })
  const started = performance.now()
  for (let first = 0; first < count; first += MESSAGE_EVENTS) {
    const events: FstEvent[] = []
    for (let i = first; i < Math.min(count, first + MESSAGE_EVENTS); i++) {
      events.push({ action, name: 'bench', protocol: 'tcp', port: '22', ip: benchIp(offset + i), time: Date.now(), duration: 0 })
    }
    runner.enqueue({ action, events, origin: 'bench' })
  }
  await runner.idle()
  return (performance.now() - started) / 1000
}

async function bannedCount (jail: string): Promise<number> {
  const { stdout } = await client(['get', jail, 'banip'])
  return stdout.split(/\s+/).filter(Boolean).length
}

async function measure (actionsDir: string, jail: string, count: number, offset: number) {
  const ban = await apply(actionsDir, jail, 'ban', offset, count)
  const applied = await bannedCount(jail)
  const unban = await apply(actionsDir, jail, 'unban', offset, count)
  const left = await bannedCount(jail)
  if (applied !== count || left !== 0) throw new Error(`${jail}: ${applied}/${count} banned, ${left} left after unban`)
  return { count, ban_s: round(ban), unban_s: round(unban), bans_per_s: round(count / ban) }
}

function round (n: number): number {
  return Math.round(n * 1000) / 1000
}

writeServerConfig()
const server = spawn('fail2ban-server', ['-f', '-x', '-c', dir, '-s', sock, '-p', join(dir, 'f2b.pid')], { cwd: dir, stdio: 'ignore' })
try {
  await pWaitFor(async () => client(['ping']).then(() => true, () => false), { interval: 100, timeout: 15_000 })
  const shipped = join(ROOT, 'actions')
  const old = writeOldActions()
  const results: Record<string, unknown> = {}
  for (const jail of ['bare', 'rec']) {
    process.stderr.write(`${jail}: ${COUNT} bans + unbans through the shipped .batch scripts\n`)
    const batch = await measure(shipped, jail, COUNT, 0)
    process.stderr.write(`${jail}: ${SAMPLE} bans + unbans one fail2ban-client call per event\n`)
    const perEvent = await measure(old, jail, SAMPLE, COUNT)
    const extrapolated = perEvent.ban_s * COUNT / SAMPLE
    results[jail] = { batch, per_event: { ...perEvent, ban_s_extrapolated_to_count: round(extrapolated) }, speedup: round(extrapolated / batch.ban_s) }
  }
  console.log(JSON.stringify({ count: COUNT, sample: SAMPLE, ...results }))
} finally {
  await client(['stop']).catch(() => server.kill('SIGKILL'))
  rmSync(dir, { recursive: true, force: true })
}
