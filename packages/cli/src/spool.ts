import { appendFileSync, closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { encodeSpoolRecord, MAX_SPOOL_FILE, parseSpoolFileName, SPOOL_FULL_MARKER, spoolFileName } from '@fst/protocol'
import { errnoText } from '@fst/node/errors'
import { EXIT, type NodeUnavailableError, UsageError } from './errors.js'

/** The line a queued report prints (fail2ban logs it; the exit code is 0). */
export const QUEUED = 'queued: node not running, will be published when it starts'

/**
 * Writes a report the node could not take into the spool, durably, and returns the QUEUED line: the
 * config's `spool` settings (--config, else $FST_CONFIG, else /etc/fst/config.yml), the folder overridden by
 * $FST_SPOOL. Loaded only when the node is unreachable: the hook's usual path reads no config file.
 * A full spool is exit 1 (the report is lost, and counted); a spool this process cannot write is the
 * original exit 3 with the reason added.
 */
export async function queueReport (opts: { config?: string, socket?: string }, request: Record<string, unknown>, time: number, cause: NodeUnavailableError): Promise<string> {
  const { configPathFrom, spoolOf } = await import('@fst/node/config-file')
  const file = configPathFrom(opts.config)
  const override = process.env.FST_SPOOL !== undefined && process.env.FST_SPOOL !== '' ? process.env.FST_SPOOL : null
  // a socket given by hand and no config file anywhere: a spool relative to the caller's cwd (fail2ban's is /)
  // would be a folder no node ever reads
  const socketGiven = opts.socket !== undefined || (process.env.FST_SOCKET ?? '') !== ''
  if (file === null && override === null && socketGiven) {
    throw new UsageError(`${cause.message}; the report could not be queued: no config file names a spool (give --config, $FST_CONFIG or $FST_SPOOL)`, EXIT.unavailable)
  }
  const settings = spoolOf(file)
  const dir = override ?? settings.dir
  try {
    writeRecord({ ...settings, dir }, request, time)
  } catch (err) {
    if (err instanceof UsageError) throw err
    throw new UsageError(`${cause.message}; the report could not be queued in ${dir}: ${errnoText(err)}`, EXIT.unavailable)
  }
  return QUEUED
}

/**
 * write to a temp file, fsync, link to the final name (fails rather than replace: names are unique and
 * O_EXCL-created), fsync the folder. Concurrent writers never touch each other's files; a reader never sees
 * a final name whose content is not on disk.
 */
function writeRecord (spool: { dir: string, maxEvents: number, maxBytes: number }, request: Record<string, unknown>, time: number): void {
  const { dir } = spool
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = lstatSync(dir)
  if (!st.isDirectory()) throw new Error('not a directory')
  const body = encodeSpoolRecord(time, request)
  if (body.length > MAX_SPOOL_FILE) throw new UsageError(`report too large for the spool (${body.length} bytes)`, EXIT.refused)
  const used = usage(dir)
  if (used.count >= spool.maxEvents || used.bytes + body.length > spool.maxBytes) {
    // the node counts these (fst_node_spool_full_total); a failure to mark must not hide the message
    try { appendFileSync(join(dir, SPOOL_FULL_MARKER), '.', { mode: 0o600 }) } catch {}
    throw new UsageError(`spool full: ${used.count} reports, ${used.bytes} bytes in ${dir} (spool.maxEvents ${spool.maxEvents}, spool.maxBytes ${spool.maxBytes}): this report is NOT queued; start the node`, EXIT.refused)
  }
  for (let attempt = 0; ; attempt++) {
    const name = spoolFileName(time, `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 10)}`, body.length)
    const temp = join(dir, `.${name}.tmp`)
    const fd = openSync(temp, 'wx', 0o600)
    try {
      writeSync(fd, body)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    try {
      linkSync(temp, join(dir, name))
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err
    } finally {
      unlinkSync(temp)
    }
  }
  const dirFd = openSync(dir, 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}

/** Reports in the spool and their bytes, from the names alone (one readdir). */
function usage (dir: string): { count: number, bytes: number } {
  let count = 0
  let bytes = 0
  for (const name of readdirSync(dir)) {
    const parsed = parseSpoolFileName(name)
    if (parsed === null) continue
    count++
    bytes += parsed.size
  }
  return { count, bytes }
}
