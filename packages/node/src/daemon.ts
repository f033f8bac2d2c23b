import { pino, type Logger } from 'pino'
import type { NodeConfig } from './config.js'
import { FstNode } from './node.js'

export function createLogger (level: string): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime })
}

/**
 * Runs a node in the foreground until SIGINT/SIGTERM. SIGHUP re-reads sync-peers.txt.
 * A second SIGINT/SIGTERM while stopping exits at once.
 */
export async function runDaemon (config: NodeConfig, log: Logger = createLogger(config.logLevel)): Promise<FstNode> {
  const node = new FstNode(config, log)
  try {
    await node.start()
  } catch (err) {
    await node.stop().catch(() => {})
    throw err
  }
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(130)
    }
    stopping = true
    log.info({ signal }, 'stopping: draining scripts and closing the ledger')
    node.stop().then(() => process.exit(0), err => {
      log.error({ err }, 'unclean stop')
      process.exit(1)
    })
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
  process.on('SIGHUP', () => {
    node.reload().catch(err => log.error({ err: (err as Error).message }, 'reload failed; keeping the old peer list'))
  })
  return node
}
