import { closeSync, constants, fstatSync, openSync, readdirSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { decodeSpoolRecord, MAX_SPOOL_FILE, parseSpoolFileName, type SpoolDamage, type SpoolRecord } from '@fst/protocol'

/** Why a spool file was set aside: the format's reasons, plus what the file system says of it. */
export type SpoolFileDamage = SpoolDamage | 'not_regular' | 'too_large' | 'unreadable'

export type SpoolRead =
  | { valid: true, record: SpoolRecord }
  | { valid: false, reason: SpoolFileDamage, error: string }

/** The record files of a spool folder in report order (names sort by report time). */
export function spoolNames (dir: string): string[] {
  return readdirSync(dir).filter(name => parseSpoolFileName(name) !== null).sort()
}

/**
 * Reads one spool file as untrusted input: no symlinks (O_NOFOLLOW), regular files only (O_NONBLOCK, so a
 * FIFO cannot hang the node), at most MAX_SPOOL_FILE bytes, and the size its name announces. Never throws.
 */
export function readSpoolFile (dir: string, name: string): SpoolRead {
  const expected = parseSpoolFileName(name)
  if (expected === null) return { valid: false, reason: 'bad_record', error: 'not a spool file name' }
  let fd: number
  try {
    fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ELOOP'
      ? { valid: false, reason: 'not_regular', error: 'a symbolic link' }
      : { valid: false, reason: 'unreadable', error: (err as Error).message }
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return { valid: false, reason: 'not_regular', error: 'not a regular file' }
    if (st.size > MAX_SPOOL_FILE) return { valid: false, reason: 'too_large', error: `${st.size} bytes, more than ${MAX_SPOOL_FILE}` }
    const buffer = Buffer.alloc(st.size)
    let got = 0
    while (got < buffer.length) {
      const n = readSync(fd, buffer, got, buffer.length - got, got)
      if (n === 0) break
      got += n
    }
    return decodeSpoolRecord(buffer.subarray(0, got), expected.size)
  } catch (err) {
    return { valid: false, reason: 'unreadable', error: (err as Error).message }
  } finally {
    closeSync(fd)
  }
}
