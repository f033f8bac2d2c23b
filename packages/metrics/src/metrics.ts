import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Distinct values per label before `other`: jails and actions on a fleet are few. */
export const LABEL_CAP = 50

/**
 * Every mesh-wide metric of the metrics service, on a registry the caller owns (never prom-client's
 * global one). Labels are bounded: outcome and reason are fixed sets; action and name pass the protocol's
 * NAME_PATTERN and are capped by LabelCap. No addresses or peer IDs.
 */
export function createMetrics (registry: Registry, live: { activeBans: () => number, peersConnected: () => number, dashboardClients: () => number }) {
  const registers = [registry]
  return {
    messages: new Counter({ name: 'fst_mesh_messages_total', help: 'Mesh messages seen, by validation outcome (accept, reject, ignore)', labelNames: ['outcome'], registers }),
    rejected: new Counter({ name: 'fst_mesh_messages_rejected_total', help: 'Mesh messages rejected or ignored, by reason', labelNames: ['reason'], registers }),
    events: new Counter({ name: 'fst_mesh_events_total', help: 'Events carried by mesh messages, by action, name (jail) and the outcome of their message', labelNames: ['action', 'name', 'outcome'], registers }),
    bans: new Counter({ name: 'fst_mesh_bans_total', help: 'Accepted events that add a ban (any action not starting with "un"), by name', labelNames: ['name'], registers }),
    duplicates: new Counter({ name: 'fst_mesh_duplicates_total', help: 'Copies of events or refused messages recorded already (gossip re-delivers recent messages to a restarted service), dropped, by kind (event, refusal)', labelNames: ['kind'], registers }),
    unbans: new Counter({ name: 'fst_mesh_unbans_total', help: 'Accepted events that remove a ban (unban, unX), by name', labelNames: ['name'], registers }),
    delay: new Histogram({
      name: 'fst_mesh_propagation_delay_seconds',
      help: 'Time from an event\'s issue at its origin to its receipt here (clock skew included)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers
    }),
    activeBans: new Gauge({
      name: 'fst_mesh_active_bans',
      help: 'Bans in force across the mesh as this service saw them (expiry and unbans applied)',
      registers,
      collect () { this.set(live.activeBans()) }
    }),
    peers: new Gauge({
      name: 'fst_mesh_peers_connected',
      help: 'Mesh peers this service is connected to',
      registers,
      collect () { this.set(live.peersConnected()) }
    }),
    clients: new Gauge({
      name: 'fst_metrics_dashboard_clients',
      help: 'Open dashboard event streams',
      registers,
      collect () { this.set(live.dashboardClients()) }
    })
  }
}

export type MeshMetrics = ReturnType<typeof createMetrics>
