import { writeFileSync } from 'node:fs'
import { generateKey } from '@libp2p/pnet'

/** Writes a new libp2p private-network (swarm) key, mode 0600. Refuses to overwrite an existing file. */
export function writeNetworkKey (file: string): void {
  const key = new Uint8Array(95)
  generateKey(key)
  writeFileSync(file, key, { mode: 0o600, flag: 'wx' })
}
