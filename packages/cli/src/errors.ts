import { errnoText } from '@fst/node/errors'
/**
 * Exit codes of `fst` and `fst-action` (docs/cli.md): 0 done; 1 the node refused the request, or there was
 * nothing to do (`fst unban` of an address no name holds, `fst status` with no peer connected); 2 a usage or
 * configuration mistake (bad arguments, a bad config key, a missing file, a busy port, a second node on one
 * state dir); 3 no node answers on the control socket; 70 a bug (printed with its stack trace).
 */
export const EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 3, internal: 70 } as const

/** A mistake the user can fix: printed as one line, no stack trace, exit code 2 (1 for refused input). */
export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
  constructor (message: string, readonly exitCode: number = EXIT.usage) {
    super(message)
  }
}

/**
 * The node cannot take a request now: no node runs on the socket, it closed the connection (stopping), or it
 * did not answer in time. Exit 3; the hook and `fst ban`/`publish` then queue the report in the spool.
 */
export class NodeUnavailableError extends UsageError {
  static override name = 'NodeUnavailableError'
  override name = 'NodeUnavailableError'
  constructor (message: string, readonly reason: 'not_running' | 'closed' | 'timeout') {
    super(message, EXIT.unavailable)
  }
}

/** Errors of @fst/node that name the file, key or entry at fault: one line, exit 2. */
const USER_ERRORS = new Set(['ConfigError', 'PeersFileError', 'StateLockError', 'IdentityError', 'PinMismatchError', 'LedgerDamagedError', 'CommanderError'])

/** The stderr line and exit code for an error that ended a command; a stack trace only for a bug. */
export function describeError (err: unknown): { line: string, code: number } {
  const e = err as NodeJS.ErrnoException | undefined
  if (err instanceof UsageError) return { line: err.message, code: err.exitCode }
  if (e !== undefined && USER_ERRORS.has(e.name)) return { line: firstLine(e.message), code: EXIT.usage }
  // a file the user named that is missing or closed to us, and nothing wrapped it: still their mistake
  if (typeof e?.code === 'string' && typeof e.syscall === 'string' && ['ENOENT', 'EACCES', 'EPERM', 'EEXIST', 'EISDIR', 'ENOTDIR', 'EADDRINUSE'].includes(e.code)) {
    return { line: `${e.path ?? e.syscall}: ${errnoText(e)}`, code: EXIT.usage }
  }
  return { line: e?.stack ?? String(err), code: EXIT.internal }
}

function firstLine (text: string): string {
  return text.split('\n')[0] ?? ''
}
