import type { NodeConfig } from '@fst/node/config'
import type { Command } from 'commander'
import { CONFIG_FLAG } from './options.js'

/** The node's config: --config, else $FST_CONFIG, else /etc/fst/config.yml, else the built-in defaults. */
export async function nodeConfig (path: string | undefined): Promise<NodeConfig> {
  const { configPathFrom, loadConfig } = await import('@fst/node/config')
  return loadConfig(configPathFrom(path))
}

/** A command that runs a long-lived service (`fst start`, `fst metrics`) with the node's config. */
export function addServiceCommand (program: Command, name: string, description: string, run: (config: NodeConfig) => Promise<unknown>): void {
  program.command(name)
    .description(description)
    .option(...CONFIG_FLAG)
    .action(async (opts: { config?: string }) => { await run(await nodeConfig(opts.config)) })
}
