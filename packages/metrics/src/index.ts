/**
 * @packageDocumentation
 * The FST metrics service: a read-only mesh peer that validates messages exactly as nodes do, counts them
 * for Prometheus (`/metrics`) and serves a live dashboard over server-sent events.
 * `runMetricsService(loadConfig(path))` runs it; `fst metrics` is the command.
 */
export { Aggregator, type AggregatorInit, type FeedItem, type MinuteBucket, type Summary } from './aggregator.js'
export { dashboardRoutes, EventStreams } from './http.js'
export { defaultDatabases, type GeoInfo, GeoLookup } from './geo.js'
export { ADDRESS_HISTORY, HistoryStore, type HistoryInit } from './history.js'
export { type DelayStats, Insights, type OriginStats, type Refusal, type RefusedStats } from './insights.js'
export { LabelCap, TopCounter } from './labels.js'
export { createMetrics, LABEL_CAP, type MeshMetrics } from './metrics.js'
export { NETWORK_PREFIX, networkOf } from './network.js'
export { MetricsService, runMetricsService } from './run.js'
export { MeshObserver, type PeerView } from './service.js'
