import { NAME_PATTERN } from '@fst/protocol'
import { z } from 'zod'
import { configPathFrom, DEFAULT_CONTROL_SOCKET, merge, readConfigDocument, resolveConfigPath } from './file.js'
import { ConfigError } from '../errors.js'

const durationMs = z.number().int().min(0)
const cidrList = z.array(z.string().min(1).max(64))

/** Variables the runner sets itself; `scriptEnv` may not replace them. */
export const RESERVED_SCRIPT_ENV = [
  'PATH', 'LANG', 'LC_ALL', 'FST_ACTION', 'FST_ORIGIN', 'FST_COUNT',
  'FST_NAME', 'FST_PROTOCOL', 'FST_PORT', 'FST_IP', 'FST_TIME', 'FST_DURATION'
]
const scriptEnvName = z.string()
  .regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'variable names must match ^[A-Z][A-Z0-9_]{0,63}$')
  .refine(name => !RESERVED_SCRIPT_ENV.includes(name), 'this variable is set by the runner itself')
const scriptEnvValue = z.string().max(4096).refine(v => !v.includes('\0'), 'values may not contain NUL')

/**
 * The node's configuration. `config.yml.dist` documents every key; `config.yml` overrides it.
 * Relative paths are resolved against the directory of the config file.
 */
export const configSchema = z.strictObject({
  /** Addresses to listen on: `host:port`, `[v6]:port` or multiaddrs. */
  listen: z.array(z.string().min(1)).min(1),
  /** The peers file, identical on every server. */
  peersFile: z.string().min(1),
  /** Folder holding `<action>.d/` folders of scripts. */
  actionsDir: z.string().min(1),
  /** Folder for the identity key, pinned peer IDs and the ledger. */
  stateDir: z.string().min(1),
  /** Unix socket (or Windows named pipe) the hook talks to. */
  controlSocket: z.string().min(1),
  /** Group allowed to use the control socket besides root (mode 0660). */
  controlGroup: z.string().min(1).nullable(),
  /** Default port for peers-file entries that give none. */
  defaultPort: z.number().int().min(1).max(65535),
  /** Stream muxers in order of preference. */
  muxers: z.array(z.enum(['yamux', 'mplex'])).min(1),
  /** Pre-shared network key file (libp2p private network); null for none. */
  networkKeyFile: z.string().min(1).nullable(),
  /** Run the scripts for events this node published itself. */
  runOwnEvents: z.boolean(),
  /** Longest a script may run before it is killed. */
  scriptTimeoutMs: durationMs.min(100),
  /** Extra environment variables for every action script (the rest of the daemon's environment is not passed). */
  scriptEnv: z.record(scriptEnvName, scriptEnvValue),
  /**
   * How scripts are started: `auto` forks them from a small perl helper when perl is installed (the daemon
   * itself then never forks), `spawn` always from the daemon.
   */
  scriptLauncher: z.enum(['auto', 'spawn']),
  /** Addresses and CIDRs that are never banned. */
  ignore: cidrList,
  /** Shortest prefix allowed for an IPv4 CIDR ban. */
  minPrefixV4: z.number().int().min(0).max(32),
  /** Shortest prefix allowed for an IPv6 CIDR ban. */
  minPrefixV6: z.number().int().min(0).max(128),
  /** Coalescing of events into signed messages. */
  batch: z.strictObject({
    maxDelayMs: durationMs.max(1000),
    maxEvents: z.number().int().min(1).max(2000)
  }),
  /** Replay protection: how old or how far in the future an event may be. */
  freshness: z.strictObject({
    maxAgeS: z.number().int().min(1),
    maxSkewS: z.number().int().min(0)
  }),
  /** Events per second (and burst) accepted from one origin. */
  rateLimit: z.strictObject({
    perSecond: z.number().positive(),
    burst: z.number().int().min(1)
  }),
  /** Per action: run it only after this many distinct peers reported the same address within windowS. */
  quorum: z.record(z.string().regex(NAME_PATTERN), z.strictObject({
    peers: z.number().int().min(1).max(1000),
    windowS: z.number().int().min(1)
  })),
  /**
   * On start, run the scripts again for every ban the ledger holds as active (own bans only with
   * runOwnEvents: fail2ban restores those itself). Off when the firewall keeps received bans across restarts.
   */
  reapplyOnStart: z.boolean(),
  /** How long removals and expired bans stay in the ledger (so catch-up cannot bring the ban back). */
  ledgerRetentionS: z.number().int().min(3600),
  /** Ledger reconciliation with peers: on every connect, and every `intervalS` (0: on connect only). */
  catchup: z.strictObject({
    intervalS: z.number().int().min(0),
    timeoutS: z.number().int().min(1)
  }),
  /** Redial backoff for lost peers. */
  redial: z.strictObject({ minMs: durationMs.min(10), maxMs: durationMs.min(10) }),
  /**
   * Membership is not connectivity: past `maxPeers` other members a node keeps a bounded, random,
   * refreshed subset of connections (mesh/subset.ts). Fleets with at most `maxPeers` other members
   * connect fully.
   */
  connectivity: z.strictObject({
    /** Most connections to members, inbound and outbound together. */
    maxPeers: z.number().int().min(2).max(1000),
    /** Every this many seconds one connection is swapped for a random other member; 0: never. */
    rotateS: z.number().int().min(0)
  }),
  /**
   * Gossipsub parameters, chosen by fleet size (mesh/fleet-params.ts); each null value is chosen, a
   * number or boolean overrides it.
   */
  gossip: z.strictObject({
    /** From this many entries in sync-peers.txt on (this server included), the large-fleet set applies. */
    largeFleetAt: z.number().int().min(2),
    floodPublish: z.boolean().nullable(),
    D: z.number().int().min(1).max(64).nullable(),
    Dlo: z.number().int().min(0).max(64).nullable(),
    Dhi: z.number().int().min(1).max(128).nullable(),
    Dout: z.number().int().min(0).max(32).nullable(),
    Dlazy: z.number().int().min(0).max(128).nullable(),
    gossipFactor: z.number().min(0).max(1).nullable()
  }),
  /** Optional node-level Prometheus endpoint, `host:port`; null for off. */
  metricsListen: z.string().min(1).nullable(),
  /** The metrics service (`fst metrics`): its HTTP endpoint for /metrics and the dashboard. */
  metrics: z.strictObject({
    /** `host:port` of the HTTP endpoint; anything but loopback requires `token`. */
    listen: z.string().min(1),
    /** Serve the live dashboard at `/` (off: only /metrics). */
    dashboard: z.boolean(),
    /** Secret for HTTP access (bearer token, or basic auth password); null for none. */
    token: z.string().min(16).max(256).nullable()
  }),
  /** Log level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
})

export type Config = z.infer<typeof configSchema>

/** Resolved configuration: paths absolute, plus where it came from. */
export interface NodeConfig extends Config {
  /** The config file loaded, or null when only defaults apply. */
  configFile: string | null
}

export const defaultConfig: Config = {
  listen: ['0.0.0.0:4242'],
  peersFile: 'sync-peers.txt',
  actionsDir: 'actions',
  stateDir: 'state',
  controlSocket: DEFAULT_CONTROL_SOCKET,
  controlGroup: null,
  defaultPort: 4242,
  muxers: ['yamux', 'mplex'],
  networkKeyFile: null,
  runOwnEvents: false,
  scriptTimeoutMs: 10_000,
  scriptEnv: {},
  scriptLauncher: 'auto',
  ignore: [],
  minPrefixV4: 16,
  minPrefixV6: 32,
  batch: { maxDelayMs: 2, maxEvents: 1000 },
  freshness: { maxAgeS: 24 * 3600, maxSkewS: 60 },
  rateLimit: { perSecond: 20_000, burst: 100_000 },
  quorum: {},
  reapplyOnStart: true,
  ledgerRetentionS: 30 * 24 * 3600,
  catchup: { intervalS: 300, timeoutS: 120 },
  redial: { minMs: 500, maxMs: 30_000 },
  connectivity: { maxPeers: 30, rotateS: 60 },
  gossip: { largeFleetAt: 50, floodPublish: null, D: null, Dlo: null, Dhi: null, Dout: null, Dlazy: null, gossipFactor: null },
  metricsListen: null,
  metrics: { listen: '127.0.0.1:9464', dashboard: true, token: null },
  logLevel: 'info'
}

const PATH_KEYS = ['peersFile', 'actionsDir', 'stateDir', 'controlSocket', 'networkKeyFile'] as const

/** Validates a merged document; errors name the key, the value and the rule. */
export function validateConfig (doc: Record<string, unknown>, source: string): Config {
  const parsed = configSchema.safeParse(doc)
  if (parsed.success) {
    if (parsed.data.redial.maxMs < parsed.data.redial.minMs) {
      throw new ConfigError(`${source}: redial.maxMs must be >= redial.minMs`)
    }
    return parsed.data
  }
  const issue = parsed.error.issues[0]!
  const key = issue.path.join('.')
  if (issue.code === 'unrecognized_keys') {
    const where = key === '' ? '' : `${key}.`
    throw new ConfigError(`${source}: unknown key ${issue.keys.map(k => where + k).join(', ')}`)
  }
  if (issue.code === 'invalid_key') {
    // a bad key of a map such as scriptEnv: report the inner rule, not zod's generic "Invalid key in record"
    throw new ConfigError(`${source}: ${key}: ${issue.issues[0]?.message ?? issue.message} (bad key ${JSON.stringify(issue.path.at(-1))})`)
  }
  const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], doc)
  throw new ConfigError(`${source}: ${key}: ${issue.message} (got ${JSON.stringify(value)})`)
}

/**
 * Loads the configuration: built-in defaults, then `config.yml.dist` beside the file, then the file.
 * With no file, defaults apply relative to the current directory.
 */
export function loadConfig (file?: string | null): NodeConfig {
  const { doc, base, configFile } = readConfigDocument(file ?? null)
  const config = validateConfig(merge({ ...defaultConfig }, doc), configFile ?? 'defaults')
  for (const key of PATH_KEYS) {
    const value = config[key]
    if (typeof value === 'string') (config as Record<string, unknown>)[key] = resolveConfigPath(value, base)
  }
  return { ...config, configFile }
}

export { configPathFrom }
