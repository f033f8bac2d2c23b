import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { errnoText, IdentityError } from '../errors.js'

/** File in the state dir holding the node's Ed25519 key (libp2p protobuf encoding). */
export const IDENTITY_FILE = 'identity.key'

/**
 * Loads the node's persistent key, creating it (mode 0600) on first start. The peer ID derived from it is
 * what other servers pin, so losing it means every peer must re-pin this server.
 */
export async function loadOrCreateIdentity (stateDir: string): Promise<PrivateKey> {
  mkdirSync(stateDir, { recursive: true, mode: 0o750 })
  const file = join(stateDir, IDENTITY_FILE)
  if (existsSync(file)) {
    chmodSync(file, 0o600)
    return readKey(file)
  }
  const key = await generateKeyPair('Ed25519')
  writeFileSync(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  return key
}

/** Loads the key without creating anything (`fst id`, `fst check`: a query never makes a key). */
export function loadIdentity (stateDir: string): PrivateKey {
  const file = join(stateDir, IDENTITY_FILE)
  if (!existsSync(file)) throw new IdentityError(`${file}: no identity key yet (stateDir ${stateDir}); \`fst start\` creates it on first start`)
  return readKey(file)
}

function readKey (file: string): PrivateKey {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (err) {
    throw new IdentityError(`${file}: cannot read the identity key: ${errnoText(err)}`)
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch {
    throw new IdentityError(`${file}: not a libp2p private key (damaged?); move it away to get a new identity, then repin this server on its peers`)
  }
}
