import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { round } from './stats.js'

/** Reading V8 heap snapshots of a node started with `--heapsnapshot-signal=SIGUSR2` (FST_NODE_ARGS). */

/**
 * Signals the node and waits for its snapshot, written to its working folder `dir`, to be complete (its
 * size stops changing); a snapshot taken before is not mistaken for it.
 */
export async function takeSnapshot (pid: number, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir).filter(n => n.endsWith('.heapsnapshot')))
  process.kill(pid, 'SIGUSR2')
  const file = await pWaitFor(() => {
    const f = readdirSync(dir).find(n => n.endsWith('.heapsnapshot') && !before.has(n))
    return f === undefined ? false : pWaitFor.resolveWith(join(dir, f))
  }, { interval: 200, timeout: 60_000 })
  let last = -1
  await pWaitFor(() => {
    const size = statSync(file).size
    const done = size === last && size > 0
    last = size
    return done
  }, { interval: 500, timeout: 60_000 })
  return file
}

interface Snapshot { snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]] } }, nodes: number[], strings: string[] }

/** Self size by constructor (or node type) from a V8 heap snapshot, largest first. */
export function byConstructor (file: string, top = 15): Array<[string, number, number]> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const iType = fields.indexOf('type')
  const iName = fields.indexOf('name')
  const iSize = fields.indexOf('self_size')
  const sums = new Map<string, [number, number]>()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!
    const key = type === 'object' || type === 'closure' ? `${type === 'closure' ? 'closure ' : ''}${snap.strings[snap.nodes[i + iName]!]}` : `(${type})`
    const s = sums.get(key) ?? [0, 0]
    s[0] += snap.nodes[i + iSize]!
    s[1]++
    sums.set(key, s)
  }
  return [...sums.entries()].sort((a, b) => b[1][0] - a[1][0]).slice(0, top).map(([k, [size, count]]) => [k, round(size / 1048576, 2), count])
}

/** The largest native objects (ArrayBuffer backing stores and the like) by name, summed per name. */
export function largestNative (file: string): Array<[string, number, number]> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const [iType, iName, iSize] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')]
  const sums = new Map<string, [number, number]>()
  for (let i = 0; i < snap.nodes.length; i += width) {
    if (types[snap.nodes[i + iType]!] !== 'native') continue
    const size = snap.nodes[i + iSize]!
    const key = `${snap.strings[snap.nodes[i + iName]!]} (${size >= 1048576 ? '≥1 MB' : size >= 65536 ? '64 KB-1 MB' : '<64 KB'})`
    const s = sums.get(key) ?? [0, 0]
    s[0] += size
    s[1]++
    sums.set(key, s)
  }
  return [...sums.entries()].sort((a, b) => b[1][0] - a[1][0]).slice(0, 10).map(([k, [size, count]]) => [k, round(size / 1048576, 2), count])
}

