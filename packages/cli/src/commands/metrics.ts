import type { Command } from 'commander'
import { CONFIG_FLAG } from '../cli.js'

/** `fst metrics`: the read-only mesh peer serving /metrics and the live dashboard. */
export function addMetricsCommand (program: Command): void {
  program.command('metrics')
    .description('run the metrics service: Prometheus /metrics and the live dashboard (list it in sync-peers.txt)')
    .option(...CONFIG_FLAG)
    .action(async (opts: { config?: string }) => {
      const { configPathFrom, loadConfig } = await import('@fst/node')
      const { runMetricsService } = await import('@fst/metrics')
      await runMetricsService(loadConfig(configPathFrom(opts.config)))
    })
}
