/**
 * @packageDocumentation
 * The FST node daemon. `runDaemon(loadConfig(path))` starts a node; the parts are exported for the metrics
 * service and for tests.
 */

export { ConfigError, PeersFileError, PinMismatchError } from './errors.js'
export { configPathFrom, configSchema, defaultConfig, loadConfig, type Config, type NodeConfig } from './config.js'
export { createLogger, type ForegroundService, runDaemon, runInForeground } from './daemon.js'
export { createHost, readNetworkKey, type Host } from './host.js'
export { IDENTITY_FILE, loadOrCreateIdentity } from './identity.js'
export { expiresAt, expiryTombstone, isActive, Ledger, ledgerKey, newer, prunable, type LedgerEntry } from './ledger.js'
export { BUCKETS, bucketOf, DigestIndex, diffBuckets } from './catchup/digest.js'
export { CatchupError, type FrameChannel, type PullResult, pullCatchup, serveCatchup } from './catchup/session.js'
export { CATCHUP_PROTOCOL, decodeFrame, type EntryPolicy, MAX_ENTRIES_PER_FRAME, MAX_FRAME_BYTES, validateEntry } from './catchup/wire.js'
export { Membership } from './membership.js'
export { MeshPeer, type VerdictListener } from './mesh-peer.js'
export { createNodeMetrics } from './metrics.js'
export { HttpEndpoint, isLoopback, metricsRoute, parseHostPort, type RouteHandler } from './metrics-server.js'
export { Dialer } from './dialer.js'
export { dedupeConnections } from './dedupe-connections.js'
export { FstNode, TOPIC } from './node.js'
export { listenAddr, parseEntry, parsePeersFile, type PeerEntry } from './peers-file.js'
export { PinStore } from './pins.js'
export { RateLimiter } from './rate-limit.js'
export { QuorumTracker, type QuorumRule } from './quorum.js'
export { FairQueue } from './fair-queue.js'
export { LogThrottle } from './log-throttle.js'
export { gossipOptions, scoreThresholds, topicScoreParams } from './gossip-params.js'
export { ActionRunner, batchInput, scriptEnv, type Job, type Outcome } from './runner.js'
export { createLauncher, DirectLauncher, ForkServer, type Launcher } from './launch/index.js'
export { listScripts, selectScript, type Script } from './scripts.js'
export { createMessageValidator, type MessageVerdict } from './validator.js'
export { writeNetworkKey } from './network-key.js'
