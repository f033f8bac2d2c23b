import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Node-level metrics, on a registry the caller owns. Labels come from bounded sets only. */
export function createNodeMetrics (registry: Registry) {
  const registers = [registry]
  return {
    published: new Counter({ name: 'fst_node_events_published_total', help: 'Events this node accepted from its hook and published', labelNames: ['action'], registers }),
    suppressed: new Counter({ name: 'fst_node_events_suppressed_total', help: 'Hook calls that changed nothing (echo of a received event, or a repeat)', labelNames: ['action'], registers }),
    refused: new Counter({ name: 'fst_node_hook_refused_total', help: 'Hook calls refused, by reason', labelNames: ['reason'], registers }),
    messages: new Counter({ name: 'fst_node_messages_total', help: 'Mesh messages received, by outcome', labelNames: ['outcome'], registers }),
    rejected: new Counter({ name: 'fst_node_messages_rejected_total', help: 'Mesh messages rejected or ignored, by reason', labelNames: ['reason'], registers }),
    held: new Counter({ name: 'fst_node_events_held_total', help: 'Events held until enough distinct peers report the same address (quorum)', labelNames: ['action'], registers }),
    received: new Counter({ name: 'fst_node_events_received_total', help: 'Events received from the mesh that changed the ledger', labelNames: ['action'], registers }),
    runs: new Counter({ name: 'fst_node_script_runs_total', help: 'Script executions, by action and outcome', labelNames: ['action', 'outcome'], registers }),
    runSeconds: new Histogram({ name: 'fst_node_script_duration_seconds', help: 'Script run time', labelNames: ['action'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    queueDepth: new Gauge({ name: 'fst_node_runner_queue_events', help: 'Events waiting for the runner', registers }),
    peers: new Gauge({ name: 'fst_node_peers_connected', help: 'Connected mesh peers', registers }),
    catchupPulls: new Counter({ name: 'fst_node_catchup_pulls_total', help: 'Catch-up pulls from peers, by outcome (same, synced, failed)', labelNames: ['outcome'], registers }),
    catchupEntries: new Counter({ name: 'fst_node_catchup_entries_total', help: 'Entries received by catch-up, by outcome (applied, unchanged, or a refusal reason)', labelNames: ['outcome'], registers }),
    entriesRefused: new Counter({ name: 'fst_node_entries_refused_total', help: 'Received entries refused by a bound or the unban authority (origin_limit, removal_limit, ledger_full, pull_limit, unban_not_authorized)', labelNames: ['reason'], registers }),
    removalsEvicted: new Counter({ name: 'fst_node_ledger_removals_evicted_total', help: 'Oldest removals of an origin dropped to keep it within limits.maxRemovalsPerOrigin', registers }),
    ledgerDamaged: new Counter({ name: 'fst_node_ledger_damaged_total', help: 'Ledger files found damaged (or empty) at start, by file (ledger, held) and reason', labelNames: ['file', 'reason'], registers }),
    spoolDrained: new Counter({ name: 'fst_node_spool_drained_total', help: 'Spooled reports (made while the node was down) taken from the spool, by outcome (published, unchanged, expired, refused, damaged)', labelNames: ['outcome'], registers }),
    spoolDepth: new Gauge({ name: 'fst_node_spool_depth', help: 'Reports waiting in the spool', registers }),
    spoolFull: new Counter({ name: 'fst_node_spool_full_total', help: 'Hook calls refused (and lost) because the spool was full, as the hooks marked them', registers }),
    connectionsRefused: new Counter({ name: 'fst_node_connections_refused_total', help: 'Inbound connections the gater refused once the key was known (unlisted_peer, unpinned_peer, not_admitted, key_changed)', labelNames: ['reason'], registers }),
    activeEntries: new Gauge({ name: 'fst_node_ledger_active_entries', help: 'Active entries in the ledger', registers })
  }
}

export type NodeMetrics = ReturnType<typeof createNodeMetrics>
