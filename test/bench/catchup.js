#!/usr/bin/env node
/**
 * Measures catch-up: a node with N active bans (default 100,000) and an empty node that starts and reconciles.
 * Usage: node test/bench/catchup.js [count]. Prints one JSON line: seed time, time from the empty node's start
 * to a full ledger, the pull's own duration as logged, and an idle reconnect's cost.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Ledger } from '@fst/node'

const COUNT = Number(process.argv[2] ?? 100_000)
const ROOT = resolve(import.meta.dirname, '../..')
const FST = join(ROOT, 'packages/cli/bin/fst.js')

function freePort () {
  return new Promise((res, rej) => {
    const s = createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)) })
  })
}

function status (config) {
  try {
    return JSON.parse(execFileSync(process.execPath, [FST, 'status', '--json', '--config', config], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
  } catch {
    return null
  }
}

async function until (check, timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? 300_000)) {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > end) throw new Error('timed out')
    await new Promise(r => setTimeout(r, 20))
  }
}

const dir = mkdtempSync(join(tmpdir(), 'fst-bench-catchup-'))
const children = []
const logs = []
try {
  const ports = [await freePort(), await freePort()]
  writeFileSync(join(dir, 'sync-peers.txt'), ports.map(p => `127.0.0.1:${p}`).join('\n') + '\n')
  const configs = ports.map((port, i) => {
    const home = join(dir, `node${i}`)
    mkdirSync(join(home, 'actions'), { recursive: true })
    const file = join(home, 'config.yml')
    writeFileSync(file, [
      `listen: ['127.0.0.1:${port}']`, 'peersFile: ../sync-peers.txt', 'actionsDir: actions', 'stateDir: state',
      'controlSocket: state/fst.sock', 'logLevel: info', 'redial: { minMs: 100, maxMs: 1000 }'
    ].join('\n') + '\n')
    return { home, file }
  })

  // seed node 0's ledger directly: COUNT permanent bans it issued itself
  const seedStart = performance.now()
  // `fst id` creates the identity and prints the peer ID first
  const origin = execFileSync(process.execPath, [FST, 'id', '--config', configs[0].file], { encoding: 'utf8' }).split('\n')[0]
  const ledger = Ledger.open(join(configs[0].home, 'state', 'ledger'))
  const now = Date.now()
  let last
  for (let i = 0; i < COUNT; i++) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
    last = ledger.apply({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip, time: now - 1000, duration: 0 }, origin)?.written
  }
  await last
  await ledger.close()
  const seedMs = performance.now() - seedStart

  const start = (i) => {
    let log = ''
    const child = spawn(process.execPath, [FST, 'start', '--config', configs[i].file], { cwd: configs[i].home, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', d => { log += d })
    child.stderr.on('data', d => { log += d })
    children[i] = child
    logs[i] = () => log
    return () => log
  }
  const stop = (i) => new Promise(r => { children[i].once('exit', r); children[i].kill('SIGTERM') })

  start(0)
  await until(() => status(configs[0].file))
  const t0 = performance.now()
  const log1 = start(1)
  const full = await until(() => status(configs[1].file)?.ledger.entries === COUNT)
  const fullMs = performance.now() - t0
  const pulled = () => log1().split('\n').filter(l => l.includes('caught up with peer')).map(l => JSON.parse(l))[0]
  const pull = await until(pulled, 10_000)
  const started = log1().split('\n').filter(l => l.includes('node started')).map(l => JSON.parse(l))[0]

  // idle reconnect: restart node 1; both pulls should answer "same"
  await stop(1)
  const t1 = performance.now()
  const log2 = start(1)
  await until(() => status(configs[1].file)?.peers.length === 1)
  const reconnectMs = performance.now() - t1
  await new Promise(r => setTimeout(r, 1000))
  const idlePulls = log2().split('\n').filter(l => l.includes('caught up with peer')).length

  console.log(JSON.stringify({
    count: COUNT,
    seedMs: Math.round(seedMs),
    startToFullLedgerMs: Math.round(fullMs),
    pullMs: pull?.ms ?? null,
    nodeStartedToCaughtUpMs: Date.parse(pull.time) - Date.parse(started.time),
    buckets: pull?.buckets ?? null,
    received: pull?.received ?? null,
    entries: full && COUNT,
    idleReconnectMs: Math.round(reconnectMs),
    idleReconnectNonEmptyPulls: idlePulls
  }))
} catch (err) {
  console.error(String(err), logs.map(l => l().split('\n').slice(-8).join('\n')).join('\n---\n'))
  throw err
} finally {
  for (const c of children) c?.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
