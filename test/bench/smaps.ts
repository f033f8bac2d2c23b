/** /proc/PID/smaps of a process, grouped by what each mapping is (issue 25's memory tables). */
import { readFileSync } from 'node:fs'
import { round } from './stats.js'

interface Mapping { name: string, rssKb: number, anonKb: number }

/** Every mapping of a process with its resident and anonymous kB. */
function mappings (pid: number): Mapping[] {
  const out: Mapping[] = []
  let current: Mapping | null = null
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head !== null) {
      current = { name: head[1]!.trim(), rssKb: 0, anonKb: 0 }
      out.push(current)
      continue
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line)
    if (field !== null && current !== null) {
      if (field[1] === 'Rss') current.rssKb += Number(field[2])
      else current.anonKb += Number(field[2])
    }
  }
  return out
}

/** Groups mappings into what they are: the node binary, shared libraries, native addons, LMDB files, anonymous memory. */
export function rssTable (pid: number): Array<[string, number]> {
  const groups = new Map<string, number>()
  const add = (k: string, kb: number) => groups.set(k, (groups.get(k) ?? 0) + kb)
  for (const m of mappings(pid)) {
    if (m.rssKb === 0) continue
    const n = m.name
    if (n === '[heap]') add('glibc main arena ([heap])', m.rssKb)
    else if (n === '') add('anonymous (V8 heap spaces, malloc arenas, thread stacks, Buffers)', m.rssKb)
    else if (n.startsWith('[stack')) add('main thread stack', m.rssKb)
    else if (n.endsWith('/node') || /\/bin\/node$/.test(n)) add(`node binary (file-backed${m.anonKb > 0 ? ', incl. relocated pages' : ''})`, m.rssKb)
    else if (n.endsWith('.node')) add('native addons (.node: lmdb, msgpackr)', m.rssKb)
    else if (n.endsWith('.mdb') || n.endsWith('-lock') || n.includes('/ledger') || n.includes('/applied') || n.includes('/held')) add('LMDB files (mapped)', m.rssKb)
    else if (n.includes('.so')) add('shared libraries', m.rssKb)
    else add(`other: ${n.slice(-40)}`, m.rssKb)
  }
  return [...groups.entries()].sort((a, b) => b[1] - a[1]).map(([k, kb]) => [k, round(kb / 1024)])
}
