/** An Error class with a stable `name`: tests and the CLI match on it, never on message text. */
function named (name: string) {
  return class extends Error {
    static override name = name
    override name = name
  }
}

/** A configuration file or value is wrong; the message names the key and the rule. */
export class ConfigError extends named('ConfigError') {}

/** sync-peers.txt holds an entry that cannot be parsed. */
export class PeersFileError extends named('PeersFileError') {}

/** A peer answered with a different key than the one pinned for its address. */
export class PinMismatchError extends named('PinMismatchError') {}

/** Another process holds the state directory's lock (a second `fst start` on the same state dir). */
export class StateLockError extends named('StateLockError') {}

/** The node's identity key is missing or unreadable, and the caller asked not to create one. */
export class IdentityError extends named('IdentityError') {}

/** A ledger (or held-reports) file is damaged and `ledger.onDamage` is `refuse`; the message names the file. */
export class LedgerDamagedError extends named('LedgerDamagedError') {}

/** Why an errno error happened, in words an administrator reads (`EADDRINUSE` → `address already in use`). */
export function errnoText (err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code
  switch (code) {
    case 'ENOENT': return 'no such file or directory'
    case 'EACCES': case 'EPERM': return 'permission denied'
    case 'EEXIST': return 'already exists'
    case 'EISDIR': return 'is a directory'
    case 'ENOTDIR': return 'a part of the path is not a directory'
    case 'EADDRINUSE': return 'address already in use (another program listens there)'
    case 'EADDRNOTAVAIL': return 'address not available on this server'
    default: return (err as Error)?.message?.split('\n')[0] ?? String(err)
  }
}
