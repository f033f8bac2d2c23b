/** A configuration file or value is wrong; the message names the key and the rule. */
export class ConfigError extends Error {
  static override name = 'ConfigError'
  override name = 'ConfigError'
}

/** sync-peers.txt holds an entry that cannot be parsed. */
export class PeersFileError extends Error {
  static override name = 'PeersFileError'
  override name = 'PeersFileError'
}

/** A peer answered with a different key than the one pinned for its address. */
export class PinMismatchError extends Error {
  static override name = 'PinMismatchError'
  override name = 'PinMismatchError'
}
