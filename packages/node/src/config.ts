import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { NAME_PATTERN } from '@fst/protocol'
import { z } from 'zod'
import { ConfigError } from './errors.js'

const durationMs = z.number().int().min(0)
const cidrList = z.array(z.string().min(1).max(64))

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
  /** On start, run the scripts again for every ban the ledger holds as active. */
  reapplyOnStart: z.boolean(),
  /** Redial backoff for lost peers. */
  redial: z.strictObject({ minMs: durationMs.min(10), maxMs: durationMs.min(10) }),
  /** Optional node-level Prometheus endpoint, `host:port`; null for off. */
  metricsListen: z.string().min(1).nullable(),
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
  controlSocket: 'state/fst.sock',
  controlGroup: null,
  defaultPort: 4242,
  muxers: ['yamux', 'mplex'],
  networkKeyFile: null,
  runOwnEvents: false,
  scriptTimeoutMs: 10_000,
  ignore: [],
  minPrefixV4: 16,
  minPrefixV6: 32,
  batch: { maxDelayMs: 2, maxEvents: 1000 },
  freshness: { maxAgeS: 24 * 3600, maxSkewS: 60 },
  rateLimit: { perSecond: 20_000, burst: 100_000 },
  quorum: {},
  reapplyOnStart: true,
  redial: { minMs: 500, maxMs: 30_000 },
  metricsListen: null,
  logLevel: 'info'
}

const PATH_KEYS = ['peersFile', 'actionsDir', 'stateDir', 'controlSocket', 'networkKeyFile'] as const

function readYaml (file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${file}: must be a mapping of keys to values`)
  return doc as Record<string, unknown>
}

function merge (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key]
    out[key] = isPlainObject(prev) && isPlainObject(value) ? merge(prev, value) : value
  }
  return out
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

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
  const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], doc)
  throw new ConfigError(`${source}: ${key}: ${issue.message} (got ${JSON.stringify(value)})`)
}

/**
 * Loads the configuration: built-in defaults, then `config.yml.dist` beside the file, then the file.
 * With no file, defaults apply relative to the current directory.
 */
export function loadConfig (file?: string | null): NodeConfig {
  let doc: Record<string, unknown> = { ...defaultConfig }
  let base = process.cwd()
  let configFile: string | null = null
  if (file != null) {
    configFile = resolve(file)
    base = dirname(configFile)
    const dist = configFile.endsWith('.dist') ? null : resolve(base, 'config.yml.dist')
    if (dist !== null && existsSync(dist)) doc = merge(doc, readYaml(dist))
    doc = merge(doc, readYaml(configFile))
  }
  const config = validateConfig(doc, configFile ?? 'defaults')
  for (const key of PATH_KEYS) {
    const value = config[key]
    if (typeof value === 'string' && !(key === 'controlSocket' && value.startsWith('\\\\.\\pipe\\'))) {
      (config as Record<string, unknown>)[key] = isAbsolute(value) ? value : resolve(base, value)
    }
  }
  return { ...config, configFile }
}

/** The config file to use: an explicit path, then $FST_CONFIG, then none (defaults). */
export function configPathFrom (explicit?: string): string | null {
  return explicit ?? process.env.FST_CONFIG ?? null
}
