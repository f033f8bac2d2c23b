/**
 * @packageDocumentation
 * The control-socket client, for programs that feed a node (benchmarks, integrations).
 */
export { ask, ControlClient } from './control-client.js'
export { UsageError } from './errors.js'
