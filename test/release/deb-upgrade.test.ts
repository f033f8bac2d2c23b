import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ask } from '@fst/cli'
import { dpkg, packageStatus, refuseInstalled, SERVICE_ENV as ENV } from '../utils/deb.js'
import { type ListedEntry, type NodeStatus, ROOT, run, waitMeshed, waitStarted } from '../utils/mesh.js'
import { FST_PORT, NetnsMesh, requireRoot } from '../utils/netns.js'
import { buildRelease, packageRelease } from '../utils/releases.js'

/** The release a server runs before the upgrade (N-1). */
const PREVIOUS = '0.1.0'
const CURRENT = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version
const CONFIG = '/etc/fst/config.yml'
const SOCKET = '/run/fst/fst.sock'
const KEY = '/var/lib/fst/identity.key'
const EDIT = '# edited by test/release/deb-upgrade.test.ts'

let mesh: NetnsMesh | null = null
let previousDeb = ''
let createdRunDir = false
let installedByUs = false
/** Host 1 runs the installed package (/usr/bin/fst, /etc/fst/config.yml). */
let installed: ChildProcess | null = null

async function startInstalled (): Promise<void> {
  const child = mesh!.spawnIn(1, '/usr/bin/fst', ['start'], { env: ENV })
  installed = child
  await waitStarted(child, 'the installed fst on host 1', child.output, () => status(), 30_000)
}

async function stopInstalled (): Promise<void> {
  const child = installed
  if (child === null || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
  installed = null
}

async function status (): Promise<NodeStatus> {
  const answer = await ask(SOCKET, { op: 'status' })
  if (!answer.ok) throw new Error(`status of host 1: ${answer.error}`)
  return answer as unknown as NodeStatus
}

/** `fst <args>` of the installed package on host 1, as an operator types it (no --config). */
async function fst (args: string[]): Promise<string> {
  const out = await mesh!.exec(1, '/usr/bin/fst', args, { env: ENV })
  if (out.code !== 0) throw new Error(`fst ${args.join(' ')} on host 1 exited ${out.code}: ${out.stderr}`)
  return out.stdout
}

const listed = async () => (JSON.parse(await fst(['list', '--json'])) as ListedEntry[]).map(e => `${e.action} ${e.ip} ${e.origin}`).sort()
/** `fst list --json` of host 2 (this checkout's build). */
async function listOfHost2 (): Promise<ListedEntry[]> {
  const out = await mesh!.fst(2, ['list', '--json'])
  if (out.code !== 0) throw new Error(`fst list on host 2: ${out.stderr}`)
  return JSON.parse(out.stdout) as ListedEntry[]
}
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const ban = (ip: string) => ['ban', 'sshd', 'tcp', '22', ip, '3600']

/**
 * Issue 24 item 2: a server upgrades its package in place. Release 0.1.0's .deb (built from its commit,
 * cached: test/utils/releases.ts) is installed, its /etc/fst/config.yml edited, and its node runs in a network
 * namespace beside a node of this checkout (host 2, an already upgraded server). After a ban, the node is
 * stopped, host 2 bans meanwhile, and `apt-get install` of this checkout's .deb replaces the package: the
 * edited conffile, the identity key and the ledger stay, the node starts with the same peer ID, answers
 * with the ban it held, catches up what it missed, and its bans reach host 2. afterAll purges the package.
 */
describe(`upgrading the installed package from ${PREVIOUS} to ${CURRENT}`, () => {
  beforeAll(async () => {
    requireRoot()
    await refuseInstalled()
    const release = await buildRelease(PREVIOUS)
    const built = await packageRelease(release)
    previousDeb = built.deb
    console.log(`deb-upgrade: release ${PREVIOUS} ${release.buildS > 0 ? `built in ${release.buildS.toFixed(1)} s` : 'from the cache'}, its .deb ${built.buildS > 0 ? `built in ${built.buildS.toFixed(1)} s` : 'from the cache'}`)
  }, 900_000)

  afterAll(async () => {
    await stopInstalled()
    await mesh?.destroy()
    if (installedByUs && await packageStatus() !== null) await run('dpkg', ['--purge', 'fst'], { input: '', timeout: 180_000 })
    if (installedByUs) rmSync('/etc/fst', { recursive: true, force: true })
    if (installedByUs) rmSync('/var/lib/fst', { recursive: true, force: true })
    if (createdRunDir) rmSync('/run/fst', { recursive: true, force: true })
  }, 240_000)

  it(`installs ${PREVIOUS}, whose node (edited config.yml) exchanges a ban with a node of ${CURRENT}`, async () => {
    installedByUs = true
    await dpkg(['install', '-y', '--no-install-recommends', previousDeb], 'apt-get')
    expect((await run('/usr/bin/fst', ['--version'], { env: ENV })).stdout.startsWith(`fst ${PREVIOUS} `)).toBe(true)

    mesh = await NetnsMesh.create({ hosts: 2, fstHosts: [2], start: false })
    const peers = join(mesh.root, 'sync-peers.txt')
    writeFileSync(peers, `${mesh.addr(1)}:${FST_PORT}\n${mesh.addr(2)}:${FST_PORT}\n`)
    writeFileSync(CONFIG, `${readFileSync(CONFIG, 'utf8')}${EDIT}\nlisten: ["${mesh.addr(1)}:${FST_PORT}"]\npeersFile: ${peers}\nredial: { minMs: 100, maxMs: 1000 }\n`)
    if (!existsSync('/run/fst')) {
      // systemd's RuntimeDirectory= in production
      mkdirSync('/run/fst', { mode: 0o755 })
      createdRunDir = true
    }
    await Promise.all([startInstalled(), mesh.startNode(2)])
    await waitMeshed([status, () => mesh!.status(2)], 100, 30_000)

    const hook = await mesh.exec(1, '/usr/bin/fst-action', ban('203.0.113.31'), { env: ENV })
    expect(hook).toMatchObject({ code: 0, stderr: '' })
    const origin = (await status()).peerId
    await pWaitFor(async () => (await listOfHost2()).some(e => e.ip === '203.0.113.31' && e.origin === origin), { interval: 100, timeout: 20_000 })
  }, 240_000)

  it(`apt-get install of the ${CURRENT} .deb keeps config.yml, the identity and the ledger; the node answers with its bans`, async () => {
    const config = readFileSync(CONFIG, 'utf8')
    const key = sha256(KEY)
    const peerId = (await status()).peerId
    const before = await listed()
    expect(before).toEqual([`ban 203.0.113.31 ${peerId}`])
    await stopInstalled()
    // what the fleet did while this server was upgraded
    expect((await mesh!.hook(2, ban('203.0.113.32'))).code).toBe(0)

    // an edited conffile the new package also changed would ask; the default answer (keep yours) is given
    await dpkg(['install', '-y', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', inject('packages').deb], 'apt-get')
    expect(await packageStatus()).toBe('install ok installed')
    expect((await run('/usr/bin/fst', ['--version'], { env: ENV })).stdout.startsWith(`fst ${CURRENT} `)).toBe(true)
    expect(readFileSync(CONFIG, 'utf8')).toBe(config)
    expect(config).toContain(EDIT)
    expect(sha256(KEY)).toBe(key)

    // host 2 cut off: what the node holds at start is what the upgrade kept, not what a peer served again
    await mesh!.isolate(2)
    await startInstalled()
    expect((await status()).peerId).toBe(peerId)
    expect(await listed()).toEqual(before)
    expect(await fst(['show', '203.0.113.31'])).toContain('203.0.113.31')
    await mesh!.heal(2)
    await waitMeshed([status, () => mesh!.status(2)], 100, 30_000)
    const other = (await mesh!.status(2)).peerId
    await pWaitFor(async () => (await listed()).length === 2, { interval: 100, timeout: 20_000 })
    expect(await listed()).toEqual([`ban 203.0.113.31 ${peerId}`, `ban 203.0.113.32 ${other}`])

    // and the upgraded node's own reports reach the mesh
    expect((await mesh!.exec(1, '/usr/bin/fst-action', ban('203.0.113.33'), { env: ENV })).code).toBe(0)
    await pWaitFor(async () => (await listOfHost2()).some(e => e.ip === '203.0.113.33' && e.origin === peerId), { interval: 100, timeout: 20_000 })
    const s = await status()
    expect(s.defences.rejected).toEqual({})
    expect(s.defences.entries ?? {}).toEqual({})
  }, 240_000)
})
