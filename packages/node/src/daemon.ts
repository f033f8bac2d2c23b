import { pino, type Logger } from 'pino'
import { PinoPretty } from 'pino-pretty'
import type { NodeConfig } from './config/config.js'
import { FstNode } from './node.js'

/**
 * The process logger. JSON lines (for journald, log shippers) unless `format` asks for readable lines, or is
 * `auto` and stdout is a terminal: then pino's own pretty-printer, synchronously in this thread (a worker
 * transport would not survive the bundle, and a person at a terminal logs little).
 */
export function createLogger (level: string, format: 'auto' | 'json' | 'pretty' = 'json'): Logger {
  const options = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true)
  if (!pretty) return pino(options)
  return pino(options, PinoPretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
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
export async function runDaemon (config: NodeConfig, log: Logger = createLogger(config.logLevel, config.logFormat)): Promise<FstNode> {
  const node = new FstNode(config, log)
  await runInForeground(node, log, 'stopping: draining scripts and closing the ledger')
  return node
}
