import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../errors.js'

/**
 * Reading config files without validating them: the hook needs only `controlSocket` and must start in
 * milliseconds, so this module stays free of the schema library. `loadConfig` adds validation on top.
 */

/** Defaults the hook needs; the full set lives in config.ts and must agree. */
export const DEFAULT_CONTROL_SOCKET = 'state/fst.sock'

/** The spool of reports made while the node was down (config `spool`): beside the default state dir. */
export const DEFAULT_SPOOL = { dir: 'spool', maxEvents: 100_000, maxBytes: 64 * 1024 * 1024 }

/** The spool settings the hook needs, resolved like `loadConfig` resolves them. */
export interface SpoolSettings { dir: string, maxEvents: number, maxBytes: number }

export interface ConfigDocument {
  /** Merged `config.yml.dist` (beside the file) and the file; unvalidated. */
  doc: Record<string, unknown>
  /** Directory relative paths are resolved against. */
  base: string
  configFile: string | null
}

/** Where the Debian package and the tarball's layout put the configuration. */
export const INSTALLED_CONFIG = '/etc/fst/config.yml'

/**
 * The config file to use: an explicit path, then $FST_CONFIG, then `installed` (/etc/fst/config.yml) if it
 * exists, then none (defaults relative to the current directory, as in a clone).
 */
export function configPathFrom (explicit?: string, installed = INSTALLED_CONFIG): string | null {
  return explicit ?? process.env.FST_CONFIG ?? (existsSync(installed) ? installed : null)
}

/** Reads `config.yml.dist` beside the file, then the file on top. With no file: an empty document in the cwd. */
export function readConfigDocument (file: string | null): ConfigDocument {
  if (file === null) return { doc: {}, base: process.cwd(), configFile: null }
  const configFile = resolve(file)
  const base = dirname(configFile)
  const dist = configFile.endsWith('.dist') ? null : resolve(base, 'config.yml.dist')
  let doc: Record<string, unknown> = {}
  if (dist !== null && existsSync(dist)) doc = readYaml(dist)
  doc = merge(doc, readYaml(configFile))
  return { doc, base, configFile }
}

/** A configured path made absolute; Windows named pipes stay as they are. */
export function resolveConfigPath (value: string, base: string): string {
  if (value.startsWith('\\\\.\\pipe\\') || isAbsolute(value)) return value
  return resolve(base, value)
}

/** The control socket of a config file, the way `loadConfig` would resolve it. */
export function controlSocketOf (file: string | null): string {
  const { doc, base } = readConfigDocument(file)
  const value = doc.controlSocket ?? DEFAULT_CONTROL_SOCKET
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${file}: controlSocket must be a path`)
  return resolveConfigPath(value, base)
}

/**
 * The spool settings of a config file, the way `loadConfig` would resolve them (unvalidated: the hook reads
 * them only when the node is unreachable, and a bad value falls back to the default, which `fst check` reports).
 */
export function spoolOf (file: string | null): SpoolSettings {
  const { doc, base } = readConfigDocument(file)
  const spool = isPlainObject(doc.spool) ? doc.spool : {}
  const dir = typeof spool.dir === 'string' && spool.dir !== '' ? spool.dir : DEFAULT_SPOOL.dir
  const whole = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : fallback)
  return { dir: resolveConfigPath(dir, base), maxEvents: whole(spool.maxEvents, DEFAULT_SPOOL.maxEvents), maxBytes: whole(spool.maxBytes, DEFAULT_SPOOL.maxBytes) }
}

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

/** Deep merge of mappings; lists and scalars in `over` replace those in `base`. */
export function merge (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
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
