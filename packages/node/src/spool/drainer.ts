import { chmodSync, type FSWatcher, lstatSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync, watch } from 'node:fs'
import { join } from 'node:path'
import { type ControlResponse, SPOOL_FULL_MARKER } from '@fst/protocol'
import type { Logger } from 'pino'
import { ConfigError, errnoText } from '../errors.js'
import type { NodeMetrics } from '../metrics/metrics.js'
import { readSpoolFile, spoolNames } from './reader.js'

/** What became of a spooled report; the `outcome` label of fst_node_spool_drained_total. */
export type SpoolOutcome = 'published' | 'unchanged' | 'expired' | 'refused' | 'damaged'

export interface SpoolDrainerInit {
  dir: string
  /** The control socket's publish, with the report's own time: the same validation as a hook call. */
  publish: (input: Record<string, unknown>, reportedAt: number) => Promise<ControlResponse>
  metrics: Pick<NodeMetrics, 'spoolDrained' | 'spoolDepth' | 'spoolFull'>
  log: Logger
  /** Rescan this often in case a change notification was missed. @default 5000 */
  rescanMs?: number
  now?: () => number
}

/** Reports handed to the publisher together: their decisions run in file order, their commits are shared. */
const CHUNK = 1000
/** Warnings per drain pass for refused or damaged files; the rest are counted and summed up in one line. */
const WARNINGS_PER_PASS = 10
/** A temp file this old was left by a writer that died before renaming it (it is never a whole report). */
const STALE_TEMP_MS = 3600_000

/**
 * Drains the spool the hook writes while no node answers (docs/troubleshooting.md): at start, before the
 * control socket opens, and whenever files appear (fs.watch, and a periodic rescan as a safety net). Each
 * report goes through the control socket's publish with its report time, in report order, and its file is
 * removed once the ledger has committed it (a crash before that publishes it again, which changes nothing).
 * A file that is no report (truncated, not JSON, a symlink, too large) is renamed `<name>.damaged` with a warning.
 */
export class SpoolDrainer {
  private watcher: FSWatcher | null = null
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = false
  /** Reports in the spool at the last look (`fst status`). */
  depth = 0
  private readonly now: () => number

  constructor (private readonly init: SpoolDrainerInit) {
    this.now = init.now ?? Date.now
  }

  /** Makes the folder (root only), then watches it; call `drain()` for the first pass. */
  start (): void {
    this.stopped = false
    prepareDir(this.init.dir, this.init.log)
    this.watcher = watch(this.init.dir, () => { void this.drain() })
    this.watcher.on('error', err => this.init.log.warn({ err: err.message }, 'spool watch failed; the periodic rescan goes on'))
    this.timer = setInterval(() => { void this.drain() }, this.init.rescanMs ?? 5000)
  }

  /** Drains until the spool is empty; concurrent calls share one pass (and ask for one more). */
  drain (): Promise<void> {
    if (this.stopped) return Promise.resolve()
    if (this.running !== null) {
      this.again = true
      return this.running
    }
    this.running = (async () => {
      try {
        do {
          this.again = false
          await this.pass()
        } while (this.again && !this.stopped)
      } catch (err) {
        this.init.log.error({ err }, 'spool drain failed; retried at the next rescan')
      } finally {
        this.running = null
      }
    })()
    return this.running
  }

  /** Stops watching; waits for a pass under way (what it has not reached stays for the next start). */
  async stop (): Promise<void> {
    this.stopped = true
    this.watcher?.close()
    this.watcher = null
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    await this.running
  }

  private async pass (): Promise<void> {
    const { dir, metrics, log } = this.init
    this.countFull()
    this.removeStaleTemps()
    const names = spoolNames(dir)
    this.setDepth(names.length)
    if (names.length === 0) return
    const counts: Record<SpoolOutcome, number> = { published: 0, unchanged: 0, expired: 0, refused: 0, damaged: 0 }
    let warned = 0
    const warn = (name: string, fields: Record<string, unknown>, message: string) => {
      if (warned++ < WARNINGS_PER_PASS) log.warn({ file: join(dir, name), ...fields }, message)
    }
    for (let i = 0; i < names.length && !this.stopped; i += CHUNK) {
      const chunk = names.slice(i, i + CHUNK)
      // started in file order: each publish decides synchronously, so a later unban sees an earlier ban
      const pending = chunk.map((name): { name: string, damaged: { reason: string, error: string } } | { name: string, answer: Promise<ControlResponse> } => {
        const read = readSpoolFile(dir, name)
        if (!read.valid) return { name, damaged: read }
        return { name, answer: this.init.publish(read.record.request, read.record.time) }
      })
      for (const item of pending) {
        let outcome: SpoolOutcome
        if ('damaged' in item) {
          outcome = 'damaged'
          warn(item.name, { reason: item.damaged.reason, error: item.damaged.error }, 'spool file is not a report (truncated or foreign): set aside as .damaged')
          setAside(dir, item.name)
        } else {
          const answer = await item.answer
          outcome = !answer.ok ? 'refused' : answer.published === true ? 'published' : answer.expired === true ? 'expired' : 'unchanged'
          if (!answer.ok) warn(item.name, { code: answer.code, error: answer.error }, 'spooled report refused by the node')
          removeFile(dir, item.name)
        }
        counts[outcome]++
        metrics.spoolDrained.inc({ outcome })
      }
      this.setDepth(Math.max(0, names.length - i - chunk.length))
    }
    if (warned > WARNINGS_PER_PASS) log.warn({ more: warned - WARNINGS_PER_PASS }, 'more spool files refused or damaged (fst_node_spool_drained_total)')
    log.info(counts, 'drained the spool')
  }

  private setDepth (n: number): void {
    this.depth = n
    this.init.metrics.spoolDepth.set(n)
  }

  /** Hook calls refused because the spool was full: one byte each in the marker, counted and removed. */
  private countFull (): void {
    const marker = join(this.init.dir, SPOOL_FULL_MARKER)
    const counting = `${marker}.counting`
    try {
      renameSync(marker, counting)
    } catch {}
    try {
      const refused = lstatSync(counting).size
      unlinkSync(counting)
      if (refused > 0) {
        this.init.metrics.spoolFull.inc(refused)
        this.init.log.warn({ refused, dir: this.init.dir }, 'reports were lost while the node was down: the spool was full (spool.maxEvents, spool.maxBytes)')
      }
    } catch {}
  }

  private removeStaleTemps (): void {
    const { dir } = this.init
    for (const name of readdirSync(dir)) {
      if (!name.startsWith('.') || !name.endsWith('.tmp')) continue
      try {
        if (statSync(join(dir, name)).mtimeMs < this.now() - STALE_TEMP_MS) unlinkSync(join(dir, name))
      } catch {}
    }
  }
}

/** The spool folder exists, is a real directory of this user, and is closed to everyone else (0700). */
function prepareDir (dir: string, log: Logger): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new ConfigError(`spool.dir: ${dir}: cannot create: ${errnoText(err)}`)
  }
  const st = lstatSync(dir)
  if (!st.isDirectory()) throw new ConfigError(`spool.dir: ${dir} is not a directory (symbolic links are refused)`)
  const uid = process.getuid?.()
  if (uid !== undefined && st.uid !== uid) throw new ConfigError(`spool.dir: ${dir} belongs to uid ${st.uid}, not to the node's user (${uid})`)
  if ((st.mode & 0o077) !== 0) {
    chmodSync(dir, 0o700)
    log.warn({ dir, mode: (st.mode & 0o777).toString(8) }, 'spool folder was open to other users: set to 0700')
  }
}

function setAside (dir: string, name: string): void {
  try {
    renameSync(join(dir, name), join(dir, `${name}.damaged`))
  } catch {}
}

function removeFile (dir: string, name: string): void {
  try {
    unlinkSync(join(dir, name))
  } catch {}
}
