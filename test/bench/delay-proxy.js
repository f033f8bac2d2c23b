/**
 * A userspace TCP delay proxy for the scale bench (this kernel has no tc netem): `node delay-proxy.js SPEC`,
 * SPEC a JSON file `{ routes: [{ listen, target }], medianMs, sigma, seed }`. Each route listens on
 * 127.0.0.1:listen and forwards to 127.0.0.1:target. Every accepted connection is one link and draws its
 * one-way delay once from a log-normal distribution (median `medianMs`, shape `sigma`); every chunk, both
 * ways, is passed on that long after it arrived, in order. No bandwidth limit and no loss: TCP on loopback
 * delivers everything. Prints `ready` once every route listens; SIGTERM stops it.
 */
import { readFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'))

// mulberry32: a seeded generator, so one seed gives the same link delays
let state = spec.seed >>> 0
function random () {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
function linkDelay () {
  // Box-Muller: a standard normal, then log-normal around the median
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  return spec.medianMs * Math.exp(spec.sigma * z)
}

/** Writes what `from` sends to `to`, `delay` ms later, in order; ends `to` after the last chunk. */
function relay (from, to, delay) {
  from.on('data', chunk => {
    setTimeout(() => { if (!to.destroyed) to.write(chunk) }, delay)
  })
  from.on('end', () => setTimeout(() => to.end(), delay))
  from.on('error', () => to.destroy())
  from.on('close', () => setTimeout(() => to.destroy(), delay + 1))
}

const delays = []
const servers = spec.routes.map(({ listen, target }) => new Promise((resolve, reject) => {
  const server = createServer(client => {
    const delay = linkDelay()
    delays.push(delay)
    const upstream = createConnection({ host: '127.0.0.1', port: target })
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    relay(client, upstream, delay)
    relay(upstream, client, delay)
  })
  server.once('error', reject)
  server.listen(listen, '127.0.0.1', () => resolve(server))
}))

Promise.all(servers).then(() => {
  process.stdout.write('ready\n')
}, err => {
  process.stderr.write(`delay proxy: ${err.message}\n`)
  process.exit(1)
})
process.on('SIGTERM', () => {
  process.stderr.write(`delay proxy: ${delays.length} links, one-way delay median ${median(delays).toFixed(1)} ms\n`)
  process.exit(0)
})

function median (xs) {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
