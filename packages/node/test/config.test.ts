import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { configPathFrom, defaultConfig, loadConfig } from '../src/config/config.js'
import { ConfigError } from '../src/errors.js'

const REPO = resolve(import.meta.dirname, '../../..')
let dir: string

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'fst-config-')) })
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

/** Writes files into a fresh folder and returns the path of its config.yml. */
function setup (files: Record<string, string>): string {
  const folder = mkdtempSync(join(dir, 'case-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(folder, name), text)
  return join(folder, 'config.yml')
}

function configError (files: Record<string, string>): ConfigError {
  try {
    loadConfig(setup(files))
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).name).toBe('ConfigError')
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig', () => {
  it('resolves relative paths against the config file, not the current directory', () => {
    const file = setup({ 'config.yml': 'stateDir: var/state\nnetworkKeyFile: net.key\nactionsDir: /opt/fst/actions\n' })
    const config = loadConfig(file)
    const base = join(file, '..')
    expect(config).toMatchObject({
      configFile: file,
      stateDir: join(base, 'var/state'),
      peersFile: join(base, 'sync-peers.txt'),
      controlSocket: join(base, 'state/fst.sock'),
      networkKeyFile: join(base, 'net.key'),
      actionsDir: '/opt/fst/actions'
    })
  })

  it('keeps a Windows named pipe as it is', () => {
    expect(loadConfig(setup({ 'config.yml': 'controlSocket: \\\\.\\pipe\\fst\n' })).controlSocket).toBe('\\\\.\\pipe\\fst')
  })

  it('layers defaults, then config.yml.dist beside the file, then config.yml (maps merge key by key)', () => {
    const file = setup({
      'config.yml.dist': 'defaultPort: 5000\nlogLevel: warn\nbatch:\n  maxDelayMs: 7\n',
      'config.yml': 'logLevel: debug\nbatch:\n  maxEvents: 10\n'
    })
    const config = loadConfig(file)
    expect(config.defaultPort).toBe(5000)
    expect(config.logLevel).toBe('debug')
    expect(config.batch).toEqual({ maxDelayMs: 7, maxEvents: 10 })
    expect(config.redial).toEqual(defaultConfig.redial)
  })

  it('accepts an empty config.yml (defaults apply)', () => {
    const config = loadConfig(setup({ 'config.yml': '# nothing\n' }))
    expect(config.listen).toEqual(defaultConfig.listen)
  })

  it('with no file uses the defaults relative to the current directory', () => {
    const config = loadConfig(null)
    expect(config.configFile).toBeNull()
    expect(config.stateDir).toBe(resolve(process.cwd(), 'state'))
  })

  it('takes scriptEnv as a map of extra script variables', () => {
    const config = loadConfig(setup({ 'config.yml': 'scriptEnv:\n  FST_FAIL2BAN_SOCKET: /run/f2b.sock\n' }))
    expect(config.scriptEnv).toEqual({ FST_FAIL2BAN_SOCKET: '/run/f2b.sock' })
  })
})

describe('config errors name the key and the rule', () => {
  it.each([
    ['colour: blue\n', /config\.yml: unknown key colour$/],
    ['batch:\n  maxDelay: 3\n', /unknown key batch\.maxDelay$/],
    ['listen: []\n', /: listen: .*>=1 items.*\(got \[\]\)/],
    ['listen: 0.0.0.0:4242\n', /: listen: .*expected array.*\(got "0\.0\.0\.0:4242"\)/],
    ['logLevel: loud\n', /: logLevel: .*"fatal".*\(got "loud"\)/],
    ['defaultPort: 70000\n', /: defaultPort: .*<=65535.*\(got 70000\)/],
    ['scriptTimeoutMs: 5\n', /: scriptTimeoutMs: .*>=100.*\(got 5\)/],
    ['batch:\n  maxEvents: 5000\n', /: batch\.maxEvents: .*<=2000.*\(got 5000\)/],
    ['muxers: [yamux, quic]\n', /: muxers\.1: .*\(got "quic"\)/],
    ['runOwnEvents: "yes"\n', /: runOwnEvents: .*expected boolean.*\(got "yes"\)/],
    ['redial:\n  minMs: 5000\n  maxMs: 1000\n', /redial\.maxMs must be >= redial\.minMs/],
    ['scriptEnv:\n  lower: x\n', /: scriptEnv\.lower: variable names must match/],
    ['scriptEnv:\n  FST_IP: x\n', /: scriptEnv\.FST_IP: this variable is set by the runner itself/],
    ['scriptEnv:\n  PATH: /tmp\n', /: scriptEnv\.PATH: this variable is set by the runner itself/],
    ['scriptEnv:\n  GOOD: 3\n', /: scriptEnv\.GOOD: .*expected string/],
    ['- a list\n', /must be a mapping of keys to values/],
    ['listen: [unclosed\n', /not valid YAML/]
  ])('%j', (text, message) => {
    const error = configError({ 'config.yml': text })
    expect(error.message).toMatch(message)
    expect(error.message).toContain('config.yml')
  })

  it('reports an unreadable file', () => {
    expect(() => loadConfig(join(dir, 'missing', 'config.yml'))).toThrow(/cannot read/)
  })
})

describe('configPathFrom', () => {
  const saved = process.env.FST_CONFIG
  afterEach(() => {
    if (saved === undefined) delete process.env.FST_CONFIG
    else process.env.FST_CONFIG = saved
  })
  it('prefers the flag, then $FST_CONFIG, then the installed file if it exists, then none', () => {
    const installed = join(dir, 'installed.yml')
    writeFileSync(installed, 'logLevel: info\n')
    process.env.FST_CONFIG = '/srv/fst/config.yml'
    expect(configPathFrom('/tmp/x.yml', installed)).toBe('/tmp/x.yml')
    expect(configPathFrom(undefined, installed)).toBe('/srv/fst/config.yml')
    delete process.env.FST_CONFIG
    expect(configPathFrom(undefined, installed)).toBe(installed)
    expect(configPathFrom(undefined, join(dir, 'not-installed.yml'))).toBeNull()
  })
})

describe('the shipped config.yml.dist', () => {
  it('loads, validates and equals the built-in defaults', () => {
    const config = loadConfig(join(REPO, 'config.yml.dist'))
    const { configFile, ...values } = config
    expect(configFile).toBe(join(REPO, 'config.yml.dist'))
    const expected: Record<string, unknown> = { ...defaultConfig }
    for (const key of ['peersFile', 'actionsDir', 'stateDir', 'controlSocket'] as const) expected[key] = join(REPO, defaultConfig[key])
    expected.spool = { ...defaultConfig.spool, dir: join(REPO, defaultConfig.spool.dir) }
    expect(values).toEqual(expected)
  })

  it('documents every key with a comment right above it', () => {
    const lines = readFileSync(join(REPO, 'config.yml.dist'), 'utf8').split('\n')
    for (const key of Object.keys(defaultConfig)) {
      const at = lines.findIndex(l => l.startsWith(`${key}:`))
      expect(at, key).toBeGreaterThan(0)
      expect(lines[at - 1], key).toMatch(/^#/)
    }
  })
})
