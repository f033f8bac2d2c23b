import type { Command } from 'commander'
import { addServiceCommand } from '../node-config.js'

/** `fst metrics`: the read-only mesh peer serving /metrics and the live dashboard. */
export function addMetricsCommand (program: Command): void {
  addServiceCommand(program, 'metrics', 'run the metrics service: Prometheus /metrics and the live dashboard (list it in sync-peers.txt)',
    async config => (await import('@fst/metrics')).runMetricsService(config))
}
