#!/usr/bin/env node
// The local demo: three FST nodes and the metrics service (the live dashboard) on 127.0.0.1 with the shipped
// defaults and log-only actions (no root, no fail2ban). One ban goes through the real hook on node 1; nodes 2
// and 3 run their scripts; the dashboard counts it.
//   node test/demo/demo.js [--once] [--dir PATH] [--every SECONDS] [--ban-for SECONDS]
// --once exits after the first ban; otherwise the nodes keep reporting an example ban (192.0.2.0/24, the
// documentation range) every --every seconds (default 4, 0: none), each lasting --ban-for seconds (default 20,
// so expiries show on the dashboard too), until Ctrl-C.
import { execFile, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const ROOT = resolve(import.meta.dirname, '../..')
const FST = join(ROOT, 'packages/cli/bin/fst.js')
const FST_ACTION = join(ROOT, 'packages/cli/bin/fst-action.cjs')
const NODES = 3
const BAN = ['ban', 'sshd', 'tcp', '22', '203.0.113.7']

// `pnpm demo -- --once` passes the `--` along: drop it
const { values: opts } = parseArgs({
  args: process.argv.slice(2).filter(arg => arg !== '--'),
  options: {
    once: { type: 'boolean', default: false },
    dir: { type: 'string', default: join(ROOT, '.demo') },
    every: { type: 'string', default: '4' },
    'ban-for': { type: 'string', default: '20' }
  }
})
const every = Number(opts.every)
const banFor = Number(opts['ban-for'])
if (!(every >= 0) || !Number.isInteger(banFor) || banFor < 1) {
  process.stderr.write('demo: --every wants seconds (0: no example bans), --ban-for a whole number of seconds (1 or more)\n')
  process.exit(2)
}
/** The jails the example bans pretend to come from, with their protocol and port. */
const EXAMPLES = [['sshd', 'tcp', '22'], ['nginx-http-auth', 'tcp', '80,443'], ['postfix', 'tcp', '25']]
const dir = resolve(opts.dir)
const shown = path => relative(process.cwd(), path) || '.'
const say = line => process.stdout.write(`${line}\n`)

function freePort () {
  return new Promise((ok, fail) => {
    const server = createServer().once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => ok(port))
    })
  })
}

function run (bin, args) {
  return new Promise(ok => {
    execFile(process.execPath, [bin, ...args], { timeout: 20_000 }, (err, stdout, stderr) => ok({ code: err === null ? 0 : (err.code ?? 1), stdout, stderr }))
  })
}

/** Polls `check` until it returns something truthy, and returns that. */
async function until (what, check, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs
  for (;;) {
    const result = await check()
    if (result) return result
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(ok => setTimeout(ok, 100))
  }
}

/**
 * Writes .demo/: the shared sync-peers.txt, per node the shipped config.yml.dist, a config.yml and log-only
 * actions, and metrics/config.yml for the metrics service (a peer of the mesh like the nodes, so it is listed).
 */
async function setup () {
  rmSync(dir, { recursive: true, force: true })
  const nodes = []
  for (let i = 1; i <= NODES; i++) nodes.push({ i, dir: join(dir, `node${i}`), port: await freePort(), runs: [] })
  const metrics = { dir: join(dir, 'metrics'), port: await freePort(), httpPort: await freePort() }
  metrics.config = join(metrics.dir, 'config.yml')
  metrics.url = `http://127.0.0.1:${metrics.httpPort}/`
  mkdirSync(metrics.dir, { recursive: true })
  writeFileSync(join(dir, 'sync-peers.txt'), [
    '# the demo mesh: every node reads this same file and skips itself; the last entry is the metrics service',
    ...nodes.map(n => `127.0.0.1:${n.port}`),
    `127.0.0.1:${metrics.port}`,
    ''
  ].join('\n'))
  copyFileSync(join(ROOT, 'config.yml.dist'), join(metrics.dir, 'config.yml.dist'))
  writeFileSync(metrics.config, [
    '# demo overrides for `fst metrics`; everything else comes from config.yml.dist beside this file',
    `listen: ['127.0.0.1:${metrics.port}']`,
    'peersFile: ../sync-peers.txt',
    `metrics: { listen: '127.0.0.1:${metrics.httpPort}' }`,
    ''
  ].join('\n'))
  for (const node of nodes) {
    for (const action of ['ban', 'unban']) {
      const scripts = join(node.dir, 'actions', `${action}.d`)
      mkdirSync(scripts, { recursive: true })
      copyFileSync(join(ROOT, 'actions/examples/log-only'), join(scripts, '50-log-only'))
      chmodSync(join(scripts, '50-log-only'), 0o755)
    }
    copyFileSync(join(ROOT, 'config.yml.dist'), join(node.dir, 'config.yml.dist'))
    node.config = join(node.dir, 'config.yml')
    writeFileSync(node.config, [
      '# demo overrides; everything else comes from config.yml.dist beside this file',
      `listen: ['127.0.0.1:${node.port}']`,
      'peersFile: ../sync-peers.txt',
      ''
    ].join('\n'))
  }
  return { nodes, metrics }
}

/**
 * Starts a node (`fst start`) or the metrics service (`fst metrics`) in its own process group (Ctrl-C reaches
 * only the demo, which stops them in order).
 */
function start (node, command = 'start', logName = 'node.log') {
  node.runs ??= []
  const log = createWriteStream(join(node.dir, logName))
  const child = spawn(process.execPath, [FST, command, '--config', node.config], { cwd: node.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  node.child = child
  let pending = ''
  child.stdout.on('data', chunk => {
    log.write(chunk)
    pending += chunk.toString()
    const lines = pending.split('\n')
    pending = lines.pop()
    for (const line of lines) onLog(node, line)
  })
  child.stderr.pipe(log)
  child.once('exit', code => { node.exited = code ?? 0 })
}

/** Shows each script run as it happens: the node logs it as "script ran" with the script's output. */
function onLog (node, line) {
  let entry
  try {
    entry = JSON.parse(line)
  } catch {
    return
  }
  if ((entry.msg === 'script ran' || entry.msg === 'script did not succeed') && node.i !== undefined) {
    node.runs.push(entry)
    say(`  node ${node.i} ran ${entry.action}.d/${entry.script}: ${entry.stdout ?? `(${entry.outcome})`}`)
  }
}

async function stopAll (procs) {
  await Promise.all(procs.map(node => new Promise(ok => {
    if (node.child === undefined || node.exited !== undefined) return ok()
    node.child.once('exit', ok)
    node.child.kill('SIGTERM')
  })))
}

/** The dashboard's numbers, as the page gets them. */
async function dashboard (metrics) {
  const res = await fetch(`${metrics.url}api/summary`).catch(() => null)
  if (res?.status !== 200) return null
  return res.json()
}

/**
 * Every `every` seconds one node in turn reports an example ban through its hook, a new address of
 * 192.0.2.0/24 each time, lasting `banFor` seconds: the dashboard's counters, feed, chart and expiry list
 * keep moving, and the other nodes run their ban scripts, then their unban scripts when it expires.
 */
function feed (nodes) {
  let n = 0
  let busy = false
  const timer = setInterval(async () => {
    if (busy) return
    busy = true
    const node = nodes[n % nodes.length]
    const [name, protocol, port] = EXAMPLES[n % EXAMPLES.length]
    const ip = `192.0.2.${(n % 254) + 1}`
    n++
    say(`node ${node.i} reports ban ${name} ${ip} for ${banFor}s`)
    const hook = await run(FST_ACTION, ['--config', node.config, 'ban', name, protocol, port, ip, String(banFor)])
    if (hook.code !== 0) say(`node ${node.i}: the hook failed: ${hook.stderr.trim()}`)
    busy = false
  }, every * 1000)
  return () => clearInterval(timer)
}

async function main () {
  const { nodes, metrics } = await setup()
  let stopFeed = () => {}
  const stop = async code => {
    stopFeed()
    await stopAll(nodes)
    await stopAll([metrics])
    process.exit(code)
  }
  process.on('SIGINT', () => { say('\nstopping the nodes…'); stop(0) })
  process.on('SIGTERM', () => stop(0))
  // a closed stdout (`pnpm demo | head`) must not leave the nodes running
  process.stdout.on('error', () => stop(0))
  try {
    say(`Starting ${NODES} FST nodes and the metrics service on 127.0.0.1 (state, configs and logs in ${shown(dir)}/)`)
    // the metrics service first, so that it hears the first ban
    start(metrics, 'metrics', 'metrics.log')
    const summary = await until(`the metrics service to start (see ${shown(join(metrics.dir, 'metrics.log'))})`, async () => {
      if (metrics.exited !== undefined) throw new Error(`the metrics service exited; see ${shown(join(metrics.dir, 'metrics.log'))}`)
      return dashboard(metrics)
    })
    metrics.peerId = summary.self
    for (const node of nodes) start(node)
    for (const node of nodes) {
      await until(`node ${node.i} to start (see ${shown(join(node.dir, 'node.log'))})`, async () => {
        if (node.exited !== undefined) throw new Error(`node ${node.i} exited; see ${shown(join(node.dir, 'node.log'))}`)
        return (await run(FST, ['status', '--json', '--config', node.config])).code === 0
      })
    }
    const ids = []
    let progress = 'no status yet'
    await until('the mesh to connect', async () => {
      const statuses = await Promise.all(nodes.map(n => run(FST, ['status', '--json', '--config', n.config])))
      if (statuses.some(s => s.code !== 0)) return false
      const parsed = statuses.map(s => JSON.parse(s.stdout))
      ids.splice(0, ids.length, ...parsed.map(s => s.peerId))
      progress = parsed.map((s, i) => `node ${i + 1}: ${s.peers.length} connected, ${s.meshPeers.length} subscribed`).join('; ')
      // the other two nodes and the metrics service
      return parsed.every(s => s.meshPeers.length >= NODES && s.meshPeers.includes(metrics.peerId))
    }, 90_000).catch(err => { throw new Error(`${err.message} (${progress})`) })
    for (const node of nodes) say(`  node ${node.i}  ${ids[node.i - 1]}  listening on 127.0.0.1:${node.port}`)
    say(`  metrics ${metrics.peerId}  listening on 127.0.0.1:${metrics.port}`)
    say('Mesh connected: every node has the other two and the metrics service as gossipsub peers.')
    say(`Dashboard: ${metrics.url}\n`)

    say(`Publishing one ban through the hook on node 1, as fail2ban would:\n  fst-action --config ${shown(nodes[0].config)} ${BAN.join(' ')}`)
    const hook = await run(FST_ACTION, ['--config', nodes[0].config, ...BAN])
    if (hook.code !== 0) throw new Error(`the hook failed: ${hook.stderr.trim()}`)
    const ip = BAN[4]
    await until('nodes 2 and 3 to run their ban scripts', () => nodes.slice(1).every(n => n.runs.some(r => r.action === 'ban' && r.ip === ip)), 20_000)
    say(`Nodes 2 and 3 ran actions/ban.d/* with argv "${BAN.slice(1).join(' ')}"; node 1, where the ban was reported, ran nothing (runOwnEvents: false).`)
    await until('the dashboard to count the ban', async () => (await dashboard(metrics))?.feed.some(e => e.ip === ip), 20_000)
    say(`The dashboard counted it (${metrics.url}).\n`)

    if (opts.once) {
      say('Demo done (--once).')
      return stop(0)
    }
    const bin = shown(join(ROOT, 'node_modules/.bin'))
    say(`Open ${metrics.url} to watch the mesh live.`)
    if (every > 0) say(`Every ${every}s a node reports an example ban of an address in 192.0.2.0/24 (the documentation range) for ${banFor}s.`)
    say('From another terminal in this folder, try:')
    say(`  ${bin}/fst-action --config ${shown(nodes[1].config)} ban sshd tcp 22 198.51.100.23`)
    say(`  ${bin}/fst-action --config ${shown(nodes[2].config)} unban sshd tcp 22 ${ip}`)
    say(`  ${bin}/fst-action --config ${shown(nodes[0].config)} ban nginx-http-auth tcp http,https 2001:db8::42 600`)
    say(`  ${bin}/fst status --config ${shown(nodes[0].config)}`)
    say(`  ${bin}/fst list --config ${shown(nodes[2].config)}`)
    say('Script runs appear here as they happen. Ctrl-C stops the nodes.')
    if (every > 0) stopFeed = feed(nodes)
  } catch (err) {
    say(`demo failed: ${err.message}`)
    await stop(1)
  }
}

main()
