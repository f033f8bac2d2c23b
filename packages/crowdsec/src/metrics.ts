import { Counter, Gauge, type Registry } from 'prom-client'

/** Metrics of the CrowdSec integration, on the node's registry. Labels come from the bounded sets named in help. */
export function createCrowdsecMetrics (registry: Registry) {
  const registers = [registry]
  return {
    lapiRequests: new Counter({ name: 'fst_node_crowdsec_lapi_requests_total', help: 'Bouncer requests to the decisions endpoint, by route (stream, decisions) and outcome (ok, forbidden, bad_request)', labelNames: ['route', 'outcome'], registers }),
    lapiDenied: new Counter({ name: 'fst_node_crowdsec_lapi_denied_total', help: 'Requests refused with 403, by reason (missing_key, bad_key)', labelNames: ['reason'], registers }),
    lapiDecisions: new Counter({ name: 'fst_node_crowdsec_lapi_decisions_total', help: 'Decisions served to bouncers, by kind (new, deleted)', labelNames: ['kind'], registers }),
    lapiPending: new Gauge({ name: 'fst_node_crowdsec_lapi_pending_decisions', help: 'Changes left for the next pull because an answer was full (last pull of any bouncer)', registers }),
    sourcePolls: new Counter({ name: 'fst_node_crowdsec_source_polls_total', help: 'Polls of the local CrowdSec LAPI, by outcome (ok, unreachable, http_error, bad_answer)', labelNames: ['outcome'], registers }),
    sourceDecisions: new Counter({ name: 'fst_node_crowdsec_source_decisions_total', help: 'Decisions read from the local CrowdSec, by outcome (published, unbanned, known, from_fst, other_origin, unsupported, invalid, refused, truncated)', labelNames: ['outcome'], registers })
  }
}

export type CrowdsecMetrics = ReturnType<typeof createCrowdsecMetrics>
