/**
 * The CrowdSec integration, both directions: a LAPI-compatible decisions endpoint that CrowdSec bouncers pull
 * FST's bans from, and a local CrowdSec LAPI polled as a source whose decisions the node publishes to the mesh.
 * Both are off by default (`crowdsec.lapi.listen`, `crowdsec.source.url`). See docs/integrations/crowdsec.md.
 */
import { join } from 'node:path'
import type { ControlResponse } from '@fst/protocol'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { isActive, ledgerKey } from '@fst/protocol'
import type { Ledger } from '../ledger/store.js'
import type { CrowdsecConfig } from './config.js'
import { CursorStore } from './cursor-store.js'
import { DecisionsEndpoint } from './lapi.js'
import { createCrowdsecMetrics, type CrowdsecMetrics } from './metrics.js'
import { CrowdsecSource } from './source.js'

export { crowdsecSchema, defaultCrowdsecConfig, type CrowdsecConfig } from './config.js'
export { formatDuration, parseDuration } from './duration.js'
export { activeBans, type Decision, decisionId, FST_ORIGIN, toDecision } from './decisions.js'
export { BouncerCursor } from './bouncers.js'
export { CursorStore } from './cursor-store.js'
export { DecisionsEndpoint, parseQuery } from './lapi.js'
export { CrowdsecSource } from './source.js'
export { createCrowdsecMetrics, type CrowdsecMetrics } from './metrics.js'

export interface CrowdsecComponents {
  /** Created by the factory when absent (always, so /metrics documents the same series on every node). */
  metrics?: CrowdsecMetrics
  config: CrowdsecConfig
  /** Folder for what each bouncer holds (`crowdsec-bouncers`, LMDB); null: kept in memory only. */
  stateDir: string | null
  /** This node's peer ID: the origin of what its CrowdSec source publishes. */
  peerId: string
  ledger: () => Ledger
  /** The node's publish path (what the hook calls). */
  publish: (input: Record<string, unknown>) => Promise<ControlResponse>
  registry: Registry
  log: Logger
}

/** The configured parts, started and stopped together. */
export class CrowdsecIntegration {
  readonly lapi: DecisionsEndpoint | null
  readonly source: CrowdsecSource | null
  private readonly store: CursorStore | null

  constructor (c: CrowdsecComponents) {
    const metrics = c.metrics ?? createCrowdsecMetrics(c.registry)
    const { name } = c.config.source
    const sourceOn = c.config.source.url !== null
    const entries = () => c.ledger().values()
    this.store = c.config.lapi.listen === null || c.stateDir === null ? null : CursorStore.open(join(c.stateDir, 'crowdsec-bouncers'))
    this.lapi = c.config.lapi.listen === null
      ? null
      : new DecisionsEndpoint({
        config: c.config.lapi,
        store: this.store ?? undefined,
        metrics,
        log: c.log.child({ component: 'crowdsec-lapi' }),
        view: { entries, actions: c.config.lapi.actions, fromLocalCrowdsec: e => sourceOn && e.origin === c.peerId && e.name === name }
      })
    this.source = !sourceOn
      ? null
      : new CrowdsecSource({
        config: c.config.source,
        publish: c.publish,
        entries,
        ownBan: value => {
          const e = c.ledger().get(ledgerKey({ action: 'ban', name, ip: value }))
          return e !== undefined && e.origin === c.peerId && isActive(e)
        },
        metrics,
        log: c.log.child({ component: 'crowdsec-source' })
      })
  }

  async start (): Promise<void> {
    await this.lapi?.start()
    this.source?.start()
  }

  async stop (): Promise<void> {
    await this.source?.stop()
    await this.lapi?.stop()
    await this.store?.close()
  }
}

/**
 * The integration when any part is configured, else null (nothing to start). Its metrics are registered
 * either way: every node's /metrics carries the same families.
 */
export function crowdsecIntegration (c: CrowdsecComponents): CrowdsecIntegration | null {
  const metrics = c.metrics ?? createCrowdsecMetrics(c.registry)
  if (c.config.lapi.listen === null && c.config.source.url === null) return null
  return new CrowdsecIntegration({ ...c, metrics })
}
