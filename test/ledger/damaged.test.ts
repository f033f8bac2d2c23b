import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST, freePort, Mesh, run, writeNodeConfig } from '../utils/mesh.js'

/** The ways the red team damaged data.mdb (issue 26, finding 4): each one killed the node with SIGSEGV, or went unnoticed. */
type Damage = 'truncated' | 'random' | 'zeroed' | 'empty'

function damage (file: string, kind: Damage): void {
  const size = statSync(file).size
  if (kind === 'truncated') truncateSync(file, 4096)
  else if (kind === 'random') writeFileSync(file, randomBytes(size))
  else if (kind === 'zeroed') writeFileSync(file, Buffer.alloc(size))
  else writeFileSync(file, '')
}

const BANS = 30
const OWN = 5

describe('a damaged ledger file (never SIGSEGV, never silent)', () => {
  let mesh: Mesh
  let metricsPort: number
  const ledgerFile = (store = 'ledger') => join(mesh.nodes[1]!.dir, 'state', store, 'data.mdb')
  const movedAside = (store = 'ledger') => readdirSync(join(mesh.nodes[1]!.dir, 'state', store)).filter(name => name.startsWith('data.mdb.damaged-'))
  /** Node 1's config.yml, with the mesh's settings and `extra`. */
  const configure = (extra: Record<string, unknown> = {}) =>
    writeNodeConfig(mesh.nodes[1]!.configFile, `127.0.0.1:${mesh.nodes[1]!.port}`, { reapplyOnStart: false, metricsListen: `127.0.0.1:${metricsPort}`, ...extra })

  beforeAll(async () => {
    metricsPort = await freePort()
    mesh = await Mesh.create({ nodes: 2, config: i => (i === 1 ? { reapplyOnStart: false, metricsListen: `127.0.0.1:${metricsPort}` } : { reapplyOnStart: false }) })
    const theirs = Array.from({ length: BANS }, (_, i) => `ban sshd tcp 22 198.51.100.${i + 1}`)
    const own = Array.from({ length: OWN }, (_, i) => `ban sshd tcp 22 203.0.113.${i + 1}`)
    expect((await mesh.fst(0, ['publish', '--stdin'], `${theirs.join('\n')}\n`)).code).toBe(0)
    // bans node 1 published itself come back too: peers serve them with node 1's own proofs
    expect((await mesh.fst(1, ['publish', '--stdin'], `${own.join('\n')}\n`)).code).toBe(0)
    for (const i of [0, 1]) expect(await mesh.waitForLedger(i, BANS + OWN)).toBe(true)
  })
  afterAll(async () => { await mesh?.stop() })
  /** Node 1's log line naming `file`: the socket may answer before the parent has read the child's last output. */
  const lineNaming = async (file: string): Promise<string | undefined> => {
    await pWaitFor(() => mesh.nodes[1]!.log().includes(file), { interval: 20, timeout: 5000 }).catch(() => {})
    return mesh.nodes[1]!.log().split('\n').find(line => line.includes(file))
  }

  for (const kind of ['truncated', 'random', 'zeroed'] as const) {
    it(`${kind}: by default the node says which file, moves it aside and gets every entry back by catch-up`, async () => {
      await mesh.stopNode(1)
      configure()
      damage(ledgerFile(), kind)
      const asideBefore = movedAside().length
      // on the unfixed code this start died with SIGSEGV (rc 139) and printed nothing
      await mesh.startNode(1)
      const warning = await lineNaming(ledgerFile())
      expect(warning, mesh.nodes[1]!.log()).toBeDefined()
      expect(warning).toMatch(/damaged/)
      expect(movedAside().length).toBe(asideBefore + 1)
      await mesh.waitConnected()
      expect(await mesh.waitForLedger(1, BANS + OWN)).toBe(true)
      expect(await mesh.list(1, true)).toEqual(await mesh.list(0, true))
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
      expect(metrics).toMatch(/^fst_node_ledger_damaged_total\{file="ledger",reason="[a-z_]+"\} 1$/m)
    })
  }

  it('empty: the node warns, naming the file, and catch-up refills it', async () => {
    await mesh.stopNode(1)
    configure()
    damage(ledgerFile(), 'empty')
    // on the unfixed code this started with 0 entries and no word about it
    await mesh.startNode(1)
    const warning = await lineNaming(ledgerFile())
    expect(warning, mesh.nodes[1]!.log()).toBeDefined()
    expect(warning).toMatch(/empty/)
    expect(JSON.parse(warning!).level).toBe(40)
    await mesh.waitConnected()
    expect(await mesh.waitForLedger(1, BANS + OWN)).toBe(true)
  })

  it('the held-reports file is checked the same way', async () => {
    await mesh.stopNode(1)
    configure()
    const held = ledgerFile('held')
    // a node without quorum rules still opens (and creates) its held store
    expect(existsSync(held)).toBe(true)
    writeFileSync(held, randomBytes(Math.max(statSync(held).size, 16_384)))
    await mesh.startNode(1)
    expect(await lineNaming(held), mesh.nodes[1]!.log()).toMatch(/damaged/)
    expect(movedAside('held')).toHaveLength(1)
  })

  for (const kind of ['truncated', 'random', 'zeroed'] as const) {
    it(`${kind}: ledger.onDamage refuse exits 2 with one line naming the file and leaves the file where it is`, async () => {
      await mesh.stopNode(1)
      configure({ ledger: { onDamage: 'refuse' } })
      damage(ledgerFile(), kind)
      const damaged = readFileSync(ledgerFile())
      const asideBefore = movedAside().length
      const out = await run(process.execPath, [FST, 'start', '--config', mesh.nodes[1]!.configFile], { cwd: mesh.nodes[1]!.dir, timeout: 30_000 })
      expect(out.code, out.stderr).toBe(2)
      const lines = out.stderr.trim().split('\n')
      expect(lines, out.stderr).toHaveLength(1)
      expect(lines[0]).toContain(ledgerFile())
      expect(lines[0]).toMatch(/^fst: .*damaged/)
      // refuse touches nothing: a restart refuses again instead of starting empty behind the operator's back
      expect(readFileSync(ledgerFile()).equals(damaged)).toBe(true)
      expect(movedAside().length).toBe(asideBefore)
      // and nothing was started: no script ran, no socket is left
      expect(existsSync(join(mesh.nodes[1]!.dir, 'state', 'fst.sock'))).toBe(false)
    })
  }
})
