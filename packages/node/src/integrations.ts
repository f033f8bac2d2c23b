import type { ControlResponse, LedgerEntry } from '@fst/protocol'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { NodeConfig } from './config/config.js'

/** What an integration may read of the ledger: the entries as they are now, and one by key. */
export interface LedgerView {
  values(): Iterable<LedgerEntry>
  get(key: string): LedgerEntry | undefined
}

/** What the node hands an integration when it starts. */
export interface IntegrationContext {
  config: NodeConfig
  /** This node's peer ID: the origin of what the integration publishes. */
  peerId: string
  ledger: LedgerView
  /** The node's publish path (what the hook calls), with the same validation and bounds. */
  publish: (input: Record<string, unknown>) => Promise<ControlResponse>
  /** The node's /metrics registry. */
  registry: Registry
  log: Logger
}

/** Something that runs beside the node (e.g. @fst/crowdsec): started once the node answers, stopped first. */
export interface NodeIntegration {
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * Makes an integration for a node, or null when its configuration leaves it off. Called once per start, after
 * the ledger opened and the control socket answers; it may register metrics either way, so that every node's
 * /metrics documents the same series.
 */
export type IntegrationFactory = (context: IntegrationContext) => NodeIntegration | null
