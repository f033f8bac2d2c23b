import type { Logger } from 'pino'
import type { NodeMetrics } from '../metrics/metrics.js'
import { createLauncher } from './launch/index.js'
import { ActionRunner, type Job } from './runner.js'

/** The settings the runner takes from the node's config (config/config.ts): actions/ depends on no config module. */
export interface RunnerSettings {
  scriptLauncher: 'auto' | 'spawn'
  actionsDir: string
  scriptTimeoutMs: number
  scriptEnv: Record<string, string>
}

/**
 * The runner as a node configures it: its launcher, folder, timeout and environment, every run counted and
 * timed, and each job that ran handed to `onRan` (AppliedBans).
 */
export function nodeRunner (config: RunnerSettings, metrics: Pick<NodeMetrics, 'runs' | 'runSeconds'>, log: Logger, onRan?: (job: Job) => void): ActionRunner {
  return new ActionRunner({
    launcher: createLauncher(log, config.scriptLauncher),
    actionsDir: config.actionsDir,
    timeoutMs: config.scriptTimeoutMs,
    extraEnv: config.scriptEnv,
    log,
    onRan,
    onRun: (action, outcome, seconds) => {
      metrics.runs.inc({ action, outcome })
      metrics.runSeconds.observe({ action }, seconds)
    }
  })
}
