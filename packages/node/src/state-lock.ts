import { linkSync, mkdirSync, readFileSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { errnoText, StateLockError } from './errors.js'

/** The lock file in the state directory. */
export const LOCK_FILE = 'fst.lock'

/**
 * One node per state directory: `fst.lock` created exclusively (link(2)), holding the owner's pid and its start time
 * (from /proc on Linux). Taken before anything else at start, so a second `fst start` fails before it
 * opens the ledger or runs a script. Chosen over a time-based lock (proper-lockfile refreshes an mtime and
 * calls a lock stale after seconds without a refresh): a node killed with SIGKILL restarts at once, and an
 * event loop stalled by a large catch-up never loses its lock. A pid whose start time differs is a reused
 * pid, so a stale lock is recognised after a reboot, and in a container where the node is always pid 1.
 */
export class StateLock {
  readonly file: string
  private token: string | null = null
  /** The state dir did not exist: a start that fails leaves no empty folder behind. */
  private created = false

  constructor (private readonly dir: string) {
    this.file = join(dir, LOCK_FILE)
  }

  acquire (): void {
    if (this.token !== null) return
    try {
      this.created = mkdirSync(this.dir, { recursive: true, mode: 0o750 }) !== undefined
    } catch (err) {
      throw new StateLockError(`stateDir: ${this.dir}: cannot create: ${errnoText(err)}`)
    }
    const token = `${process.pid} ${startTime(process.pid) ?? ''}`.trim()
    // bounded: one try, and one more after removing a stale lock
    for (let attempt = 0; attempt < 2; attempt++) {
      // written in full to a file of our own, then linked into place: link() fails with EEXIST like O_EXCL,
      // and a reader never sees a lock without its pid (which it would take for stale)
      const temp = `${this.file}.${process.pid}`
      try {
        writeFileSync(temp, `${token}\n`, { mode: 0o600 })
        linkSync(temp, this.file)
        this.token = token
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StateLockError(`${this.file}: cannot create the lock: ${errnoText(err)}`)
      } finally {
        rmSync(temp, { force: true })
      }
      const holder = readHolder(this.file)
      if (holder !== null && holderAlive(holder)) {
        throw new StateLockError(`stateDir: ${this.dir}: another fst node (pid ${holder.pid}) is using it; stop that one first (lock ${this.file})`)
      }
      try {
        unlinkSync(this.file)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StateLockError(`${this.file}: cannot remove a stale lock: ${errnoText(err)}`)
      }
    }
    throw new StateLockError(`stateDir: ${this.dir}: another fst node is starting on it (lock ${this.file})`)
  }

  /** Removes the lock if it is still ours; safe to call twice. */
  release (): void {
    if (this.token === null) return
    try {
      if (readFileSync(this.file, 'utf8').trim() === this.token) unlinkSync(this.file)
      // only an empty one: a node that ran has a key and a ledger in it
      if (this.created) rmdirSync(this.dir)
    } catch {}
    this.token = null
    this.created = false
  }
}

interface Holder { pid: number, start: string | null }

function readHolder (file: string): Holder | null {
  try {
    const [pid, start] = readFileSync(file, 'utf8').trim().split(' ')
    return /^\d{1,10}$/.test(pid ?? '') ? { pid: Number(pid), start: start ?? null } : null
  } catch {
    return null
  }
}

function holderAlive (holder: Holder): boolean {
  // our own pid in the file is a lock left by an earlier life of this pid (a container's pid 1)
  if (holder.pid === process.pid || holder.pid === 0) return false
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const now = startTime(holder.pid)
  return holder.start === null || now === null || now === holder.start
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot; null off Linux. */
function startTime (pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}
