import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pWaitFor from 'p-wait-for'
import { Fail2ban } from '../utils/fail2ban.js'
import { FST_ACTION, ROOT } from '../utils/mesh.js'
import { NetnsMesh } from '../utils/netns.js'
import { benchIp } from './load.js'

/**
 * Issue 27: what a fail2ban restart costs with N persisted bans in a jail that carries the fst action.
 * Two hosts in namespaces, each an FST node; host 1 runs a real fail2ban-server with a database file.
 * The N bans are in host 1's ledger (published with `fst publish --stdin`, so host 2 holds them too) and in
 * fail2ban's database (`banip` through a no-op fst action). Then host 1's fail2ban is restarted with each
 * variant of action.d/fst.conf, and the stop and the start are timed and their hook calls counted (host 1's
 * node counters: published + suppressed + refused). CPU: the fail2ban server's own and its reaped children's
 * (the hook processes) from /proc, read at the end of the start.
 *
 * After each start one new attack is detected (three failed logins): its ticket queues behind the restored
 * ones in the jail's single actions thread, so its report marks the end of the restore's hook calls; and as
 * in production, the action has then banned something since the start, so a stop unbans through it.
 *
 *   npx tsx test/bench/fail2ban-restart.ts [--count 5000] [--shipped-only]
 */
const { values } = parseArgs({ options: { count: { type: 'string', default: '5000' }, 'shipped-only': { type: 'boolean', default: false } } })
const COUNT = Number(values.count)
const JAIL = 'sshd'
const TICK = 100 // USER_HZ

const shipped = readFileSync(join(ROOT, 'contrib/fail2ban/action.d/fst.conf'), 'utf8')
const without = (text: string, keys: string[]) => text.split('\n').filter(l => !keys.some(k => l.startsWith(`${k} =`))).join('\n')
// the variants go in host 1's folder, which the mesh's teardown removes (also on a signal)
let confDir = ''
const conf = (name: string, text: string) => () => { const file = join(confDir, `${name}.conf`); writeFileSync(file, text); return file }
/** 0.1.0's action: neither option, so a stop unbans each ban through the hook and a start bans it again. */
const OLD = conf('old', without(shipped, ['norestored', 'actionflush']))
const NORESTORED_ONLY = conf('norestored-only', without(shipped, ['actionflush']))
const NOW = conf('shipped', shipped)
const NOOP = conf('noop', without(shipped, ['norestored', 'actionflush']).replace(/^actionban = .*$/m, 'actionban =').replace(/^actionunban = .*$/m, 'actionunban ='))

function cpuOf (pid: number): { own: number, children: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number)
  // after the command: state(0) … utime(11) stime(12) cutime(13) cstime(14)
  return { own: (fields[11]! + fields[12]!) / TICK, children: (fields[13]! + fields[14]!) / TICK }
}
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d

async function main (): Promise<void> {
  const mesh = await NetnsMesh.create({ hosts: 2 })
  let f2b: Fail2ban | undefined
  try {
    const host = mesh.host(1)
    confDir = host.dir
    const action = `fst[port="%(port)s", protocol="%(protocol)s", fst_action="${process.execPath} ${FST_ACTION}", fst_config="${host.configFile}", fst_socket="${host.socket}"]`
    f2b = await Fail2ban.start(mesh, 1, NOOP(), [{ name: JAIL, bantime: 86_400, port: '22', protocol: 'tcp', action }], { persist: true })
    const ips = Array.from({ length: COUNT }, (_, i) => benchIp(i))
    const seedLedger = async () => {
      const out = await mesh.fst(1, ['publish', '--stdin'], ips.map(ip => `ban ${JAIL} tcp 22 ${ip} 86400\n`).join(''))
      if (out.code !== 0) throw new Error(`fst publish --stdin: ${out.stderr}${out.stdout}`)
      await pWaitFor(async () => (await mesh.status(2)).ledger.active === COUNT, { interval: 200, timeout: 600_000 })
    }
    const say = (text: string) => process.stderr.write(`${new Date().toISOString()} ${text}\n`)
    await seedLedger()
    say(`ledgers hold ${COUNT} bans`)
    for (let i = 0; i < COUNT; i += 1000) {
      const out = await f2b.client(['set', JAIL, 'banip', ...ips.slice(i, i + 1000)])
      if (out.code !== 0) throw new Error(`banip: ${out.stderr}`)
    }
    // a stop with the no-op action writes the database and reports nothing
    say('fail2ban holds them; stopping')
    await f2b.halt(600_000)
    say('stopped')
    const results: Record<string, unknown>[] = []
    const calls = async () => { const m = (await mesh.status(1)).messages; return m.published + m.suppressed }
    const restores = () => f2b!.logLines('Restore Ban').length

    // the bans each start's closing attack adds (in fail2ban's database: restored by the next start)
    let extra = 0
    /** Starts the halted server with `confFile`; waits until it has restored every ban and, if `reports`, called the hook for each. */
    const start = async (label: string, confFile: () => string, reports: boolean) => {
      const total = COUNT + extra
      const expected = reports ? total : 0
      const calls0 = await calls()
      const restored0 = restores()
      const began = performance.now()
      await f2b!.resume(confFile())
      await pWaitFor(() => restores() - restored0 >= total, { interval: 50, timeout: 3_600_000 })
      const bannedAt = performance.now()
      await pWaitFor(async () => (await calls()) - calls0 >= expected, { interval: 50, timeout: 3_600_000 })
      const doneAt = performance.now()
      const cpu = cpuOf(f2b!.pid())
      const status = await f2b!.client(['status', JAIL])
      const banned = Number(/Currently banned:\s+(\d+)/.exec(status.stdout)?.[1])
      f2b!.failedLogins(benchIp(COUNT + extra++), 3)
      await pWaitFor(async () => (await calls()) - calls0 >= expected + 1, { interval: 50, timeout: 600_000 })
      const row = {
        phase: `start, ${label}`, count: total, banned, hookCalls: (await calls()) - calls0 - 1,
        restored_s: round((bannedAt - began) / 1000), done_s: round((doneAt - began) / 1000),
        f2bCpu_s: round(cpu.own), hookCpu_s: round(cpu.children), hookCpuPerCall_ms: expected > 0 ? round(cpu.children * 1000 / expected, 1) : null,
        fleetActive: (await mesh.status(2)).ledger.active, loadavg: loadavg()
      }
      if (banned !== total) throw new Error(`${label}: ${banned} of ${total} banned after the start`)
      results.push(row)
      process.stderr.write(`${JSON.stringify(row)}\n`)
    }
    /** Stops the server, waits for it to exit, counts the hook calls the stop made. */
    const stop = async (label: string) => {
      const calls0 = await calls()
      const published0 = (await mesh.status(1)).messages.published
      const began = performance.now()
      await f2b!.halt(3_600_000)
      const row = {
        phase: `stop, ${label}`, count: COUNT + extra, hookCalls: (await calls()) - calls0, published: (await mesh.status(1)).messages.published - published0,
        stop_s: round((performance.now() - began) / 1000), fleetActive: (await mesh.status(2)).ledger.active, loadavg: loadavg()
      }
      results.push(row)
      process.stderr.write(`${JSON.stringify(row)}\n`)
    }
    const matrix = async () => {
      // 0.1.0's action: every restored ban an echo of the ledger (suppressed), each an unban at the stop
      await start('0.1.0 action (ledger holds every ban)', OLD, true)
      await stop('0.1.0 action')
      // norestored alone: the start reports nothing, but once the action reported a ban, the stop unbans all
      await seedLedger()
      await start('norestored = 1 only', NORESTORED_ONLY, false)
      await stop('norestored = 1 only')
      await seedLedger()
      await start('shipped (norestored, actionflush)', NOW, false)
      await stop('shipped (norestored, actionflush)')
      await start('shipped (norestored, actionflush)', NOW, false)
    }
    if (values['shipped-only'] === true) {
      await start('shipped (norestored, actionflush)', NOW, false)
      await stop('shipped (norestored, actionflush)')
      await start('shipped (norestored, actionflush)', NOW, false)
    } else {
      await matrix()
    }
    process.stdout.write(`${JSON.stringify({ bench: 'fail2ban-restart', results })}\n`)
  } finally {
    await f2b?.stop()
    await mesh.destroy()
  }
}

await main()
