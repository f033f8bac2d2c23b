import { readdirSync, readFileSync } from 'node:fs'

/** Percentile by nearest rank; `p` in 0..100. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

export const median = (values: readonly number[]) => percentile(values, 50)

export function round (value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Progress on stderr, so stdout ends with the JSON line alone. */
export function progress (message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

/** Fields of /proc/PID/status given in kB, in MB; null when the process is gone. */
function statusMb<K extends string> (pid: number, fields: readonly K[]): Record<K, number | null> {
  let status = ''
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {}
  const out = {} as Record<K, number | null>
  for (const f of fields) {
    const kb = new RegExp(`^${f}:\\s+(\\d+)`, 'm').exec(status)?.[1]
    out[f] = kb === undefined ? null : round(Number(kb) / 1024)
  }
  return out
}

/** VmRSS split: anonymous memory (heap, buffers) and file-backed pages (the binary, LMDB's mapped file; reclaimable). */
export function rssSplitMb (pid: number): { anon: number | null, file: number | null } {
  const { RssAnon, RssFile } = statusMb(pid, ['RssAnon', 'RssFile'])
  return { anon: RssAnon, file: RssFile }
}

export interface RssParts {
  /** V8's heap pages: Node's V8 maps each 256 kB page on its own, anonymous (in use or pooled for reuse). */
  v8Pages: number
  /** glibc's main arena ([heap]) and its thread arenas (64 MB-aligned anonymous mappings of at most 64 MB). */
  malloc: number
  /** The LMDB stores' mapped files. */
  lmdb: number
  /** Every other anonymous mapping: large malloc blocks, ArrayBuffer stores, code, stacks. */
  otherAnon: number
  /** Every named mapping that is not LMDB's: the node binary, shared libraries, the main thread's [stack]. */
  code: number
}

/** The parts, in the order the soak reports them. */
export const RSS_PARTS: ReadonlyArray<keyof RssParts> = ['v8Pages', 'malloc', 'lmdb', 'otherAnon', 'code']

/** Where a process's resident memory lies, from /proc/PID/smaps (MB); null when the process is gone. */
export function rssPartsMb (pid: number): RssParts | null {
  let smaps: string
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8')
  } catch {
    return null
  }
  // summed in kB, returned in MB
  const parts: RssParts = { v8Pages: 0, malloc: 0, lmdb: 0, otherAnon: 0, code: 0 }
  let part: keyof RssParts = 'code'
  for (const line of smaps.split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (range !== null) {
      const start = parseInt(range[1]!, 16)
      const size = parseInt(range[2]!, 16) - start
      const name = range[3]!
      if (name === '[heap]') part = 'malloc'
      else if (name.endsWith('.mdb')) part = 'lmdb'
      else if (name !== '') part = 'code'
      else if (size === 256 * 1024) part = 'v8Pages'
      else if (start % 2 ** 26 === 0 && size <= 2 ** 26) part = 'malloc'
      else part = 'otherAnon'
    } else if (line.startsWith('Rss:')) {
      parts[part] += parseInt(line.slice(4), 10)
    }
  }
  for (const p of RSS_PARTS) parts[p] = round(parts[p] / 1024)
  return parts
}

/** Resident set size of a process in MB, from /proc; null when the process is gone. */
export function rssMb (pid: number): number | null {
  return statusMb(pid, ['VmRSS']).VmRSS
}

/** ms per clock tick of /proc/stat and /proc/PID/stat: USER_HZ is 100 on Linux. */
const MS_PER_TICK = 1000 / 100

/**
 * CPU time the whole machine has spent (user + system, every process: nodes, fork servers, scripts, kernel
 * threads, the bench itself) in ms since boot, from /proc/stat; null where there is none.
 */
export function machineCpuMs (): number | null {
  try {
    const [, user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number)
    return (user! + nice! + system! + irq! + softirq!) * MS_PER_TICK
  } catch {
    return null
  }
}

/** CPU (user + system, ms) a process used itself, and what its waited-for children used, from /proc; null when gone. */
export function processCpuMs (pid: number): { own: number, children: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name, which may hold spaces: field 14 (utime) is index 11 here
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
    return { own: (f[11]! + f[12]!) * MS_PER_TICK, children: (f[13]! + f[14]!) * MS_PER_TICK }
  } catch {
    return null
  }
}

/** Child processes of a process, from /proc (every thread's children). */
export function childPids (pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap(t => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number))
  } catch {
    return []
  }
}
