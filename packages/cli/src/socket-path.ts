import { configPathFrom, loadConfig } from '@fst/node/config'

/**
 * The control socket of the configured node. Loads only the config module (yaml and zod), never libp2p:
 * the hook runs this for every ban fail2ban reports.
 */
export function socketPath (configFlag?: string): string {
  return loadConfig(configPathFrom(configFlag)).controlSocket
}
