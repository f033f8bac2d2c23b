/**
 * The CrowdSec integration, both directions: a LAPI-compatible decisions endpoint that CrowdSec bouncers pull
 * FST's bans from, and a local CrowdSec LAPI polled as a source whose decisions the node publishes to the mesh.
 * Both are off by default (`crowdsec.lapi.listen`, `crowdsec.source.url`). See docs/integrations/crowdsec.md.
 */
import { join } from 'node:path'
import { isActive, ledgerKey } from '@fst/protocol'
import type { IntegrationContext, IntegrationFactory, NodeIntegration } from '@fst/node'
import { CursorStore } from './cursor-store.js'
import { DecisionsEndpoint } from './lapi.js'
import { createCrowdsecMetrics, type CrowdsecMetrics } from './metrics.js'
import { CrowdsecSource } from './source.js'

export { formatDuration, parseDuration } from './duration.js'
export { activeBans, type Decision, decisionId, FST_ORIGIN, toDecision } from './decisions.js'
export { BouncerCursor } from './bouncers.js'
export { CursorStore } from './cursor-store.js'
export { DecisionsEndpoint, parseQuery } from './lapi.js'
export { CrowdsecSource } from './source.js'
export { createCrowdsecMetrics, type CrowdsecMetrics } from './metrics.js'

/** The configured parts, started and stopped together. */
export class CrowdsecIntegration implements NodeIntegration {
  readonly lapi: DecisionsEndpoint | null
  readonly source: CrowdsecSource | null
  private readonly store: CursorStore | null

  constructor (c: IntegrationContext, metrics: CrowdsecMetrics) {
    const config = c.config.crowdsec
    const { name } = config.source
    const sourceOn = config.source.url !== null
    const entries = () => c.ledger.values()
    this.store = config.lapi.listen === null ? null : CursorStore.open(join(c.config.stateDir, 'crowdsec-bouncers'))
    this.lapi = config.lapi.listen === null
      ? null
      : new DecisionsEndpoint({
        config: config.lapi,
        store: this.store ?? undefined,
        metrics,
        log: c.log.child({ component: 'crowdsec-lapi' }),
        view: { entries, actions: config.lapi.actions, fromLocalCrowdsec: e => sourceOn && e.origin === c.peerId && e.name === name }
      })
    this.source = !sourceOn
      ? null
      : new CrowdsecSource({
        config: config.source,
        publish: c.publish,
        entries,
        ownBan: value => {
          const e = c.ledger.get(ledgerKey({ action: 'ban', name, ip: value }))
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
 * The integration when any part is configured (`crowdsec.lapi.listen`, `crowdsec.source.url`), else null.
 * Its metrics are registered either way: every node's /metrics carries the same families.
 */
export const crowdsecIntegration: IntegrationFactory = c => {
  const metrics = createCrowdsecMetrics(c.registry)
  const { lapi, source } = c.config.crowdsec
  if (lapi.listen === null && source.url === null) return null
  return new CrowdsecIntegration(c, metrics)
}
