import { pino, type Logger } from 'pino'
import type { NodeConfig } from './config/config.js'
import { FstNode } from './node.js'
import type { IntegrationFactory } from './integrations.js'

/** The JSON-lines logger (pino) of a process at `level`. */
export function createLogger (level: string): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime })
}

/**
 * The logger of `fst start` / `fst metrics`: JSON lines (journald, log shippers) unless `format` asks for
 * readable lines, or is `auto` and stdout is a terminal: then pino's own pretty-printer, synchronously in this
 * thread (a worker transport would not survive the bundle, and a person at a terminal logs little). Loaded
 * only then: a node under systemd carries none of it.
 */
export async function createProcessLogger (level: string, format: 'auto' | 'json' | 'pretty' = 'auto'): Promise<Logger> {
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true)
  if (!pretty) return createLogger(level)
  // a CommonJS module: its function is the default export once bundled (a named export is not)
  const { default: prettyStream } = await import('pino-pretty')
  const stream = prettyStream({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, stream)
}

/** A mesh peer run as a process: `fst start` (FstNode) and `fst metrics` (MetricsService). */
export interface ForegroundService {
  start (): Promise<void>
  stop (): Promise<void>
  /** Re-reads sync-peers.txt. */
  reload (): Promise<void>
}

/**
 * Starts `service` (stopping it again if the start fails) and ties it to the process signals: SIGINT/SIGTERM
 * stop it and exit, a second one while stopping exits at once, SIGHUP reloads the peers file.
 */
export async function runInForeground (service: ForegroundService, log: Logger, stoppingMessage = 'stopping'): Promise<void> {
  try {
    await service.start()
  } catch (err) {
    await service.stop().catch(() => {})
    throw err
  }
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(130)
    }
    stopping = true
    log.info({ signal }, stoppingMessage)
    service.stop().then(() => process.exit(0), err => {
      log.error({ err }, 'unclean stop')
      process.exit(1)
    })
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
  process.on('SIGHUP', () => {
    service.reload().catch(err => log.error({ err: (err as Error).message }, 'reload failed; keeping the old peer list'))
  })
}

/** Runs a node in the foreground until SIGINT/SIGTERM (see runInForeground). */
export async function runDaemon (config: NodeConfig, logger?: Logger, integrations: readonly IntegrationFactory[] = []): Promise<FstNode> {
  const log = logger ?? await createProcessLogger(config.logLevel, config.logFormat)
  const node = new FstNode(config, log, integrations)
  await runInForeground(node, log, 'stopping: draining scripts and closing the ledger')
  return node
}
