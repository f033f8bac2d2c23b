import { hostname } from 'node:os'
import type { Command } from 'commander'
import { CONFIG_FLAG } from '../options.js'
import { addServiceCommand, nodeConfig } from '../node-config.js'

/** `fst start`, `fst id`, `fst keygen`: commands that work on this server's node and its identity. */
export function addNodeCommands (program: Command, emit: (text: string) => void): void {
  addServiceCommand(program, 'start', 'run a node in the foreground (one per state dir: a second one exits 2 before doing anything)',
    async config => {
      const [{ runDaemon }, { crowdsecIntegration }] = await Promise.all([import('@fst/node'), import('@fst/crowdsec')])
      return runDaemon(config, undefined, [crowdsecIntegration])
    })

  program.command('id')
    .description('print this node\'s peer ID and the line to paste into sync-peers.txt (reads the key; never creates one)')
    .option(...CONFIG_FLAG)
    .action(async (opts: { config?: string }) => {
      const { loadIdentity } = await import('@fst/node/identity')
      const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
      const config = await nodeConfig(opts.config)
      // a query never creates a key: only `fst start` does
      const peerId = peerIdFromPrivateKey(loadIdentity(config.stateDir)).toString()
      emit(`${peerId}\n${peerId}@${entryHost(config.listen[0]!)}`)
    })

  program.command('keygen')
    .description('create a private-network key (give the same file to every server)')
    .argument('<file>', 'where to write the key (mode 0600); an existing file is never overwritten (exit 2)')
    .action(async (file: string) => {
      const { writeNetworkKey } = await import('@fst/node')
      writeNetworkKey(file)
      emit(`wrote ${file}: copy it to every server and set networkKeyFile in config.yml`)
    })
}

/** `0.0.0.0:4242` → `<hostname>:4242`; other listen entries stay as they are. */
function entryHost (listen: string): string {
  const m = /^(?:\[(.+)\]|([^:]+)):(\d+)$/.exec(listen)
  if (m === null) return listen
  const host = m[1] ?? m[2]!
  const shown = host === '0.0.0.0' || host === '::' ? hostname() : host.includes(':') ? `[${host}]` : host
  return `${shown}:${m[3]}`
}
