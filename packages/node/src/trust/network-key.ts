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

/** True for a libp2p v1 swarm key as `fst keygen` writes it: the tag, `/base16/`, 32 bytes in hex. */
export function isNetworkKey (bytes: Uint8Array): boolean {
  const [tag, codec, hex] = Buffer.from(bytes).toString('utf8').split(/\r?\n/)
  return tag === '/key/swarm/psk/1.0.0/' && codec === '/base16/' && /^[0-9a-fA-F]{64}$/.test(hex ?? '')
}
