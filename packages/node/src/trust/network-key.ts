import { writeFileSync } from 'node:fs'
import { generateKey } from '@libp2p/pnet'
import { errnoText, IdentityError } from '../errors.js'

/** Writes a new libp2p private-network (swarm) key, mode 0600. Refuses to overwrite an existing file. */
export function writeNetworkKey (file: string): void {
  const key = new Uint8Array(95)
  generateKey(key)
  try {
    writeFileSync(file, key, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'EEXIST' ? 'already exists; fst keygen never overwrites a key (remove the file first to replace it on every server)' : errnoText(err)
    throw new IdentityError(`${file}: ${why}`)
  }
}
