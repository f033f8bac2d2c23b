import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { stringify } from 'yaml'
import type { RunResult } from './mesh.js'
import type { NetnsMesh } from './netns.js'

/** Debian's packages (bookworm: crowdsec 1.4.6, crowdsec-firewall-bouncer 0.0.25); .ci/run installs them. */
export const FIREWALL_BOUNCER = '/usr/bin/crowdsec-firewall-bouncer'
export const CROWDSEC = '/usr/bin/crowdsec'
export const CSCLI = '/usr/bin/cscli'

/** A random bouncer key and the SHA-256 that FST's config stores instead of it. */
export function bouncerKey (): { key: string, sha256: string } {
  const key = randomBytes(24).toString('hex')
  return { key, sha256: createHash('sha256').update(key).digest('hex') }
}

/**
 * Config of crowdsec-firewall-bouncer in nftables mode, in the foreground, logging to stdout, no Prometheus
 * port: run by hand with `-c`, not as the packaged service.
 */
export function writeFirewallBouncerConfig (dir: string, apiUrl: string, apiKey: string, updateFrequency: string): string {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'crowdsec-firewall-bouncer.yaml')
  writeFileSync(file, stringify({
    mode: 'nftables',
    pid_dir: dir,
    update_frequency: updateFrequency,
    daemonize: false,
    log_mode: 'stdout',
    log_dir: dir,
    log_level: 'info',
    api_url: apiUrl,
    api_key: apiKey,
    disable_ipv6: false,
    deny_action: 'DROP',
    deny_log: false,
    supported_decisions_types: ['ban'],
    nftables: {
      ipv4: { enabled: true, 'set-only': false, table: 'crowdsec', chain: 'crowdsec-chain' },
      ipv6: { enabled: true, 'set-only': false, table: 'crowdsec6', chain: 'crowdsec6-chain' }
    },
    prometheus: { enabled: false, listen_addr: '127.0.0.1', listen_port: 60601 }
  }), { mode: 0o600 })
  return file
}

/** Elements of the bouncer's nftables set on a host (addresses and ranges, without timeouts). */
export async function bouncerSet (mesh: NetnsMesh, index: number, family: 'ip' | 'ip6' = 'ip'): Promise<string[]> {
  const [table, set] = family === 'ip' ? ['crowdsec', 'crowdsec-blacklists'] : ['crowdsec6', 'crowdsec6-blacklists']
  const out = await mesh.exec(index, 'nft', ['-j', 'list', 'set', family, table, set])
  if (out.code !== 0) return []
  const doc = JSON.parse(out.stdout) as { nftables: Array<{ set?: { elem?: unknown[] } }> }
  const elems = doc.nftables.find(x => x.set !== undefined)?.set?.elem ?? []
  return elems.map(e => elemText(e)).sort()
}

function elemText (e: unknown): string {
  if (typeof e === 'string') return e
  const o = e as { elem?: { val?: unknown }, prefix?: { addr: string, len: number } }
  if (o.elem !== undefined) return elemText(o.elem.val)
  if (o.prefix !== undefined) return `${o.prefix.addr}/${o.prefix.len}`
  return JSON.stringify(e)
}

/** GET of a URL from inside a host (the test process cannot reach the namespaces): status and body. */
export async function fetchIn (mesh: NetnsMesh, index: number, url: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string }> {
  const code = 'fetch(process.argv[1],{headers:JSON.parse(process.argv[2])}).then(async r=>{process.stdout.write(JSON.stringify({status:r.status,body:await r.text()}))},e=>{process.stdout.write(JSON.stringify({status:0,body:String(e)}))})'
  const out = await mesh.exec(index, process.execPath, ['-e', code, url, JSON.stringify(headers)])
  return JSON.parse(out.stdout) as { status: number, body: string }
}

/** A counter's value in a Prometheus text exposition (0 when absent). */
export function counterValue (text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = (m[2] ?? '').split(',')
    if (want.every(w => have.includes(w))) total += Number(m[3])
  }
  return total
}

/** A CrowdSec LAPI (no agent) running in a host's namespace: its config, and cscli against it. */
export interface CrowdsecLapi {
  config: string
  url: string
  /** Runs cscli with this LAPI's config inside the host. */
  cscli: (args: string[]) => Promise<RunResult>
}

/**
 * Starts a real `crowdsec -no-cs` (the Local API only, SQLite in its own folder, no Central API) in a host,
 * registers a machine for cscli and a bouncer with the given key, and waits until it answers.
 */
export async function startCrowdsecLapi (mesh: NetnsMesh, index: number, port: number, bouncer: { name: string, key: string }): Promise<CrowdsecLapi> {
  const dir = join(mesh.host(index).dir, 'crowdsec')
  mkdirSync(join(dir, 'data'), { recursive: true })
  mkdirSync(join(dir, 'hub'), { recursive: true })
  const url = `http://127.0.0.1:${port}/`
  const credentials = join(dir, 'local_api_credentials.yaml')
  writeFileSync(credentials, '')
  writeFileSync(join(dir, 'simulation.yaml'), 'simulation: off\n')
  writeFileSync(join(dir, 'profiles.yaml'), stringify({ name: 'default_ip_remediation', filters: ['Alert.Remediation == true && Alert.GetScope() == "Ip"'], decisions: [{ type: 'ban', duration: '4h' }], on_success: 'break' }))
  const config = join(dir, 'config.yaml')
  writeFileSync(config, stringify({
    common: { daemonize: false, log_media: 'stdout', log_level: 'info', working_dir: dir },
    config_paths: {
      config_dir: `${dir}/`,
      data_dir: `${dir}/data/`,
      simulation_path: join(dir, 'simulation.yaml'),
      hub_dir: `${dir}/hub/`,
      index_path: join(dir, 'hub/.index.json'),
      notification_dir: `${dir}/notifications/`,
      plugin_dir: '/usr/lib/crowdsec/plugins/'
    },
    cscli: { output: 'human', color: 'no' },
    db_config: { log_level: 'info', type: 'sqlite', db_path: join(dir, 'data/crowdsec.db'), use_wal: true },
    // no online_client: nothing talks to CrowdSec's Central API
    api: {
      client: { credentials_path: credentials },
      server: { log_level: 'info', listen_uri: `127.0.0.1:${port}`, profiles_path: join(dir, 'profiles.yaml'), trusted_ips: ['127.0.0.1'] }
    },
    prometheus: { enabled: false }
  }))
  const cscli = (args: string[]) => mesh.exec(index, CSCLI, ['-c', config, ...args])
  const check = (out: RunResult, what: string) => { if (out.code !== 0) throw new Error(`cscli ${what}: ${out.stderr}${out.stdout}`) }
  check(await cscli(['machines', 'add', 'fst-test', '--auto', '-f', credentials, '--url', url]), 'machines add')
  check(await cscli(['bouncers', 'add', bouncer.name, '-k', bouncer.key]), 'bouncers add')
  const lapi = mesh.spawnIn(index, CROWDSEC, ['-c', config, '-no-cs'])
  await pWaitFor(async () => {
    if (lapi.exitCode !== null) throw new Error(`crowdsec exited:\n${lapi.output()}`)
    return (await fetchIn(mesh, index, `${url}v1/decisions/stream`)).status === 403
  }, { interval: 100, timeout: 20_000 })
  return { config, url, cscli }
}
