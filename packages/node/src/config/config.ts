import { MAX_DURATION_S, NAME_PATTERN, parseAddress } from '@fst/protocol'
import * as z from 'zod'
import { configPathFrom, DEFAULT_CONTROL_SOCKET, DEFAULT_SPOOL, merge, readConfigDocument, resolveConfigPath } from './file.js'
import { ConfigError } from '../errors.js'
import { crowdsecSchema, defaultCrowdsecConfig } from './crowdsec.js'

const durationMs = z.number().int().min(0)
/** A pull must at least take one full catch-up frame. */
const MIN_PULL = 2000
/** An address or CIDR, checked with the same parser as every ban (a typo stops the node, not a ban later). */
const cidr = z.string().superRefine((text, ctx) => {
  const parsed = parseAddress(text)
  if (!parsed.valid) ctx.addIssue({ code: 'custom', message: parsed.error })
})
const cidrList = z.array(cidr)
/** `host:port`, `[v6]:port` or a multiaddr; the same rule as trust/peers-file.ts listenAddr. */
const listenItem = z.string().min(1).refine(
  item => item.startsWith('/') || /^(?:\[[0-9A-Fa-f:.]+\]|\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.test(item),
  'listen entries are IPv4:port, [IPv6]:port or a multiaddr'
)
const hostPort = z.string().regex(/^(?:\[[0-9A-Fa-f:.]+\]|[^:[\]]+):\d{1,5}$/, 'expected host:port or [v6]:port')

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
  listen: z.array(listenItem).min(1),
  /** The peers file, identical on every server. */
  peersFile: z.string().min(1),
  /** Most entries the peers file may list; past it the start (or SIGHUP) fails naming the line. */
  peersFileMaxEntries: z.number().int().min(1).max(100_000),
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
   * Who may lift a ban before it expires: `any` listed peer, only its `origin`, its origin or one of `admins`
   * (peer IDs), or a `quorum` of `peers` distinct peers within `windowS` (every unban then waits for it).
   * Expiry always works locally. Same value on every server.
   */
  unbanAuthority: z.strictObject({
    mode: z.enum(['any', 'origin', 'admins', 'quorum']),
    admins: z.array(z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{46,60}$/, 'admins are base58 peer IDs (fst id)')).max(1000),
    peers: z.number().int().min(1).max(1000),
    windowS: z.number().int().min(1)
  }),
  /** Bounds on what one other peer can make this node hold or read. */
  limits: z.strictObject({
    /** Keys one other origin may hold as bans (and reports held for a quorum); past it its new bans are refused. */
    maxActivePerOrigin: z.number().int().min(1),
    /**
     * Removals (unbans, expiry tombstones) one origin keeps in the ledger: its newest ones. Past it its oldest
     * are dropped, and its removals of keys this node does not hold that are older than all it keeps are refused.
     */
    maxRemovalsPerOrigin: z.number().int().min(1000),
    /** Keys the ledger holds at most; past it new keys of other origins are refused (own reports never are). */
    maxLedgerEntries: z.number().int().min(10_000),
    /** Entries one catch-up pull reads; past it the pull ends (the next one goes on from there). */
    maxEntriesPerPull: z.number().int().min(MIN_PULL)
  }),
  /**
   * On start, run the scripts again for every ban the ledger holds as active (own bans only with
   * runOwnEvents: fail2ban restores those itself). Off when the firewall keeps received bans across restarts.
   */
  reapplyOnStart: z.boolean(),
  /** How long removals and expired bans stay in the ledger (so catch-up cannot bring the ban back). */
  ledgerRetentionS: z.number().int().min(3600),
  /** The ledger's files (state/ledger, state/held), checked on every start. */
  ledger: z.strictObject({
    /**
     * A damaged file: `rebuild` moves it aside (`data.mdb.damaged-<time>`) and starts empty, catch-up refills it
     * from peers; `refuse` leaves it in place and exits 2 with one line naming it.
     * @default 'rebuild'
     */
    onDamage: z.enum(['refuse', 'rebuild'])
  }),
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
  metricsListen: hostPort.nullable(),
  /** The metrics service (`fst metrics`): its HTTP endpoint for /metrics and the dashboard. */
  metrics: z.strictObject({
    /** `host:port` of the HTTP endpoint; anything but loopback requires `token`. */
    listen: z.string().min(1),
    /** Serve the live dashboard at `/` (off: only /metrics). */
    dashboard: z.boolean(),
    /**
     * Country and AS of banned addresses from the offline databases (the fst-geoip package); false: none,
     * and ~8 MB less memory (the country table is read into it).
     */
    geoip: z.boolean(),
    /** Secret for HTTP access (bearer token, or basic auth password); null for none. */
    token: z.string().min(16).max(256).nullable()
  }),
  /**
   * Ban length in seconds when the report gives none (`fst ban` without --duration, a hook call without a
   * sixth field): fail2ban's own default bantime, not forever. 0 would mean permanent.
   */
  defaultDurationS: z.number().int().min(0).max(MAX_DURATION_S),
  /** CrowdSec: decisions endpoint for bouncers, and a local CrowdSec LAPI as a source (config/crowdsec.ts). */
  crowdsec: crowdsecSchema,
  /**
   * Reports the hook (and `fst ban`/`unban`/`publish`) could not hand to the node are written here and
   * published when the node starts (spool/). Root only (mode 0700).
   */
  spool: z.strictObject({
    /** The spool folder; `spool` beside the default state dir. Production: /var/spool/fst. */
    dir: z.string().min(1),
    /** Most reports it holds; past it the hook exits 1 and the report is lost (counted). */
    maxEvents: z.number().int().min(1),
    /** Most bytes its reports take together (each is a few hundred bytes). */
    maxBytes: z.number().int().min(4096)
  }),
  /** Log level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** `auto`: readable lines (pino-pretty) when stdout is a terminal, JSON lines otherwise; `json`; `pretty`. */
  logFormat: z.enum(['auto', 'json', 'pretty'])
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
  peersFileMaxEntries: 10_000,
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
  unbanAuthority: { mode: 'origin', admins: [], peers: 2, windowS: 600 },
  limits: { maxActivePerOrigin: 250_000, maxRemovalsPerOrigin: 50_000, maxLedgerEntries: 1_000_000, maxEntriesPerPull: 200_000 },
  reapplyOnStart: true,
  ledgerRetentionS: 30 * 24 * 3600,
  ledger: { onDamage: 'rebuild' },
  catchup: { intervalS: 300, timeoutS: 120 },
  redial: { minMs: 500, maxMs: 30_000 },
  connectivity: { maxPeers: 30, rotateS: 60 },
  gossip: { largeFleetAt: 50, floodPublish: null, D: null, Dlo: null, Dhi: null, Dout: null, Dlazy: null, gossipFactor: null },
  metricsListen: null,
  metrics: { listen: '127.0.0.1:9464', dashboard: true, geoip: true, token: null },
  crowdsec: defaultCrowdsecConfig,
  defaultDurationS: 600,
  spool: { ...DEFAULT_SPOOL },
  logLevel: 'info',
  logFormat: 'auto'
}

const PATH_KEYS = ['peersFile', 'actionsDir', 'stateDir', 'controlSocket', 'networkKeyFile'] as const

/** Validates a merged document; errors name the key, the value and the rule (the first problem found). */
export function validateConfig (doc: Record<string, unknown>, source: string): Config {
  const problems = configProblems(doc, source)
  if (problems.length > 0) throw new ConfigError(problems[0]!)
  return configSchema.parse(doc)
}

/** Every problem of a merged document, one line each (`fst check` prints them all). */
export function configProblems (doc: Record<string, unknown>, source: string): string[] {
  const parsed = configSchema.safeParse(doc)
  if (parsed.success) {
    return parsed.data.redial.maxMs < parsed.data.redial.minMs ? [`${source}: redial.maxMs must be >= redial.minMs`] : []
  }
  return parsed.error.issues.map(issue => {
    const key = issue.path.join('.')
    if (issue.code === 'unrecognized_keys') {
      const where = key === '' ? '' : `${key}.`
      return `${source}: unknown key ${issue.keys.map(k => where + k).join(', ')}`
    }
    if (issue.code === 'invalid_key') {
      // a bad key of a map such as scriptEnv: report the inner rule, not zod's generic "Invalid key in record"
      return `${source}: ${key}: ${issue.issues[0]?.message ?? issue.message} (bad key ${JSON.stringify(issue.path.at(-1))})`
    }
    const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], doc)
    return `${source}: ${key}: ${issue.message} (got ${JSON.stringify(value)?.slice(0, 120)})`
  })
}

/**
 * Loads the configuration: built-in defaults, then `config.yml.dist` beside the file, then the file.
 * With no file, defaults apply relative to the current directory.
 */
export function loadConfig (file?: string | null): NodeConfig {
  const { doc, base, configFile } = readConfigDocument(file ?? null)
  return resolvePaths(validateConfig(merge({ ...defaultConfig }, doc), configFile ?? 'defaults'), base, configFile)
}

/** A validated config with its paths made absolute against `base` (the config file's folder). */
export function resolvePaths (config: Config, base: string, configFile: string | null): NodeConfig {
  const out: Record<string, unknown> = { ...config }
  for (const key of PATH_KEYS) {
    const value = config[key]
    if (typeof value === 'string') out[key] = resolveConfigPath(value, base)
  }
  const keyFile = config.crowdsec.source.apiKeyFile
  out.spool = { ...config.spool, dir: resolveConfigPath(config.spool.dir, base) }
  if (keyFile !== null) out.crowdsec = { ...config.crowdsec, source: { ...config.crowdsec.source, apiKeyFile: resolveConfigPath(keyFile, base) } }
  return { ...(out as Config), configFile }
}

export { configPathFrom }
