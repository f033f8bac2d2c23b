import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

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
    return privateKeyFromProtobuf(readFileSync(file))
  }
  const key = await generateKeyPair('Ed25519')
  writeFileSync(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  return key
}
