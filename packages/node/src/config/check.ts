import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { listScripts } from '../actions/scripts.js'
import { checkStore, DATA_FILE, type StoreCheck } from '../ledger/integrity.js'
import { errnoText } from '../errors.js'
import { parseHostPort } from '../metrics/http.js'
import { IDENTITY_FILE, loadIdentity } from '../trust/identity.js'
import { isNetworkKey } from '../trust/network-key.js'
import { listenAddr, parsePeersFile } from '../trust/peers-file.js'
import { configProblems, defaultConfig, type NodeConfig, resolvePaths } from './config.js'
import { merge, readConfigDocument } from './file.js'
import { type HostAddresses, isBindable, listenHost, thisHost } from './local-address.js'

/** The outcome of `fst check`: the resolved config when it parsed, and every problem found, one line each. */
export interface CheckReport {
  config: NodeConfig | null
  problems: string[]
  /** What is fine but worth a line: a folder the systemd unit creates when it starts. */
  notes: string[]
}

/** The folder the shipped unit creates (RuntimeDirectory=fst, contrib/systemd/fst-server.service). */
const UNIT_RUNTIME_DIR = '/run/fst'

/**
 * Everything `fst start` would trip over, found without starting (like `nginx -t`): the config keys, the peers
 * file, the actions dirs, the identity and network keys (present, readable, mode 0600), the state dir and the
 * control socket's folder (writable), the ledger files' headers. Reads only; creates nothing.
 */
export function checkSetup (file: string | null, host: HostAddresses = thisHost): CheckReport {
  let doc: ReturnType<typeof readConfigDocument>
  try {
    doc = readConfigDocument(file)
  } catch (err) {
    return { config: null, problems: [(err as Error).message], notes: [] }
  }
  const source = doc.configFile ?? 'defaults'
  const merged = merge({ ...defaultConfig }, doc.doc)
  const problems = configProblems(merged, source)
  if (problems.length > 0) return { config: null, problems, notes: [] }
  const config = resolvePaths(merged as never, doc.base, doc.configFile)
  problems.push(...listenProblems(config, host), ...peersProblems(config), ...actionsProblems(config), ...stateProblems(config), ...storeProblems(config))
  const socketFolder = dirname(config.controlSocket)
  const notes = socketFolder === UNIT_RUNTIME_DIR && !existsSync(socketFolder)
    ? [`controlSocket: ${UNIT_RUNTIME_DIR} does not exist yet: the systemd unit creates it when it starts (without systemd: install -d -m 0755 ${UNIT_RUNTIME_DIR})`]
    : []
  return { config, problems, notes }
}

/**
 * Every address the node listens on parses and is one of this server's (a port in use cannot be told from
 * the running node's own: `fst start` reports that one). The lines read as `fst start`'s would.
 */
function listenProblems (config: NodeConfig, on: HostAddresses): string[] {
  const out: string[] = []
  const notHere = (key: string, item: string, host: string | null) => {
    if (host !== null && !isBindable(host, on)) out.push(`${key}: ${item}: ${errnoText({ code: 'EADDRNOTAVAIL' })} (not an address of its interfaces)`)
  }
  for (const item of config.listen) {
    try {
      listenAddr(item)
    } catch (err) {
      out.push(`listen: ${(err as Error).message}`)
      continue
    }
    notHere('listen', item, listenHost(item))
  }
  for (const [key, value] of [['metricsListen', config.metricsListen], ['crowdsec.lapi.listen', config.crowdsec.lapi.listen]] as const) {
    if (value === null) continue
    let host: string
    try {
      host = parseHostPort(value, key).host
    } catch (err) {
      out.push((err as Error).message)
      continue
    }
    notHere(key, value, host === 'localhost' ? '127.0.0.1' : listenHost(value))
  }
  return out
}

function peersProblems (config: NodeConfig): string[] {
  let text: string
  try {
    text = readFileSync(config.peersFile, 'utf8')
  } catch (err) {
    return [`peersFile: ${config.peersFile}: cannot read: ${errnoText(err)}`]
  }
  try {
    const entries = parsePeersFile(text, config.defaultPort, config.peersFileMaxEntries)
    return entries.length === 0 ? [`peersFile: ${config.peersFile}: lists no server`] : []
  } catch (err) {
    return [`${config.peersFile}: ${(err as Error).message}`]
  }
}

function actionsProblems (config: NodeConfig): string[] {
  const dir = config.actionsDir
  if (!isDir(dir)) return [`actionsDir: ${dir}: ${existsSync(dir) ? 'not a directory' : 'no such directory'}`]
  const out: string[] = []
  let folders: string[]
  try {
    folders = readdirSync(dir).filter(name => name.endsWith('.d') && isDir(join(dir, name)))
  } catch (err) {
    return [`actionsDir: ${dir}: cannot read: ${errnoText(err)}`]
  }
  if (folders.length === 0) out.push(`actionsDir: ${dir}: no <action>.d folder (ban.d, unban.d, ...): received events would run nothing`)
  for (const folder of folders) {
    const path = join(dir, folder)
    const runnable = new Set(listScripts(path).map(s => s.name))
    let names: string[] = []
    try {
      names = readdirSync(path)
    } catch (err) {
      out.push(`${path}: cannot read: ${errnoText(err)}`)
    }
    for (const name of names) {
      if (name.startsWith('.') || name.endsWith('~') || name.endsWith('.disabled') || runnable.has(name)) continue
      if (statSync(join(path, name)).isFile()) out.push(`${join(path, name)}: not executable, so never run (chmod +x, or rename it to ${name}.disabled)`)
    }
  }
  return out
}

function stateProblems (config: NodeConfig): string[] {
  const out: string[] = []
  const state = config.stateDir
  if (existsSync(state)) {
    if (!isDir(state)) out.push(`stateDir: ${state}: not a directory`)
    else if (!writable(state)) out.push(`stateDir: ${state}: not writable by this user`)
    else if (existsSync(join(state, IDENTITY_FILE))) {
      try {
        loadIdentity(state)
        out.push(...modeProblem(join(state, IDENTITY_FILE), 'the identity key'))
      } catch (err) {
        out.push((err as Error).message)
      }
    }
  } else if (!writable(nearestExisting(state))) {
    out.push(`stateDir: ${state}: does not exist and ${nearestExisting(state)} is not writable by this user`)
  }
  if (config.networkKeyFile !== null) {
    try {
      const key = readFileSync(config.networkKeyFile)
      if (!isNetworkKey(key)) out.push(`networkKeyFile: ${config.networkKeyFile}: not a libp2p swarm key (create one with fst keygen)`)
      out.push(...modeProblem(config.networkKeyFile, 'networkKeyFile'))
    } catch (err) {
      out.push(`networkKeyFile: ${config.networkKeyFile}: cannot read: ${errnoText(err)}`)
    }
  }
  const socket = config.controlSocket
  if (!socket.startsWith('\\\\.\\pipe\\')) {
    const folder = dirname(socket)
    if (existsSync(folder) && !isDir(folder)) {
      out.push(`controlSocket: ${socket}: ${folder} is not a directory`)
    } else if (existsSync(folder) ? !writable(folder) : !writable(nearestExisting(folder))) {
      out.push(`controlSocket: ${socket}: cannot create it: ${folder} is not writable by this user`)
    } else if (!existsSync(folder) && !folder.startsWith(state) && folder !== UNIT_RUNTIME_DIR) {
      out.push(`controlSocket: ${socket}: folder ${folder} does not exist (the node creates only its state dir)`)
    }
  }
  return out
}

/**
 * The ledger's files, by their meta pages only: a running node may have them open, and reading every entry
 * is what `fst start` does (ledger/integrity.ts). An empty file is not a problem here: the node warns about it.
 */
function storeProblems (config: NodeConfig): string[] {
  const out: string[] = []
  for (const store of ['ledger', 'held', 'applied']) {
    let check: StoreCheck
    try {
      check = checkStore(join(config.stateDir, store), { deep: false })
    } catch (err) {
      out.push(`${join(config.stateDir, store, DATA_FILE)}: cannot read: ${errnoText(err)}`)
      continue
    }
    if (check.state !== 'damaged') continue
    const then = config.ledger.onDamage === 'refuse' ? 'fst start will refuse to start (ledger.onDamage: refuse)' : 'fst start will move it aside and start empty (ledger.onDamage: rebuild)'
    out.push(`${check.file}: the ${store} file is damaged (${check.detail}); ${then}`)
  }
  return out
}

/** A key readable by group or others is a problem (the node itself writes 0600). */
function modeProblem (file: string, what: string): string[] {
  const mode = statSync(file).mode & 0o777
  return process.platform !== 'win32' && (mode & 0o077) !== 0
    ? [`${file}: ${what} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 ${file}`]
    : []
}

function isDir (path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function writable (path: string): boolean {
  try {
    accessSync(path, constants.W_OK)
    return true
  } catch {
    return false
  }
}

function nearestExisting (path: string): string {
  let p = path
  for (let i = 0; i < 64 && !existsSync(p); i++) p = dirname(p)
  return p
}
