import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST_PORT, leftoverNamespaces, NetnsMesh } from '../utils/netns.js'

const RECORD = `#!/bin/sh
printf '%s %s\\n' "$FST_ACTION" "$*" >> ../../runs.log
`

function runs (mesh: NetnsMesh, index: number): string[] {
  try {
    return readFileSync(join(mesh.host(index).dir, 'runs.log'), 'utf8').split('\n').filter(Boolean)
  } catch {
    return []
  }
}

/** The namespace harness itself: three FST hosts on a bridge, isolation and healing, full teardown. */
describe('namespace harness', () => {
  let mesh: NetnsMesh

  beforeAll(async () => {
    mesh = await NetnsMesh.create({
      hosts: 3,
      config: () => ({ logLevel: 'info' })
    })
    for (const i of [1, 2, 3]) mesh.installScript(i, 'ban', '50-record', { body: RECORD })
  })
  afterAll(async () => {
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  it('connects nodes over 10.77 addresses and carries a ban between namespaces', async () => {
    const statuses = await Promise.all([1, 2, 3].map(i => mesh.status(i)))
    for (const s of statuses) expect(s.peers).toHaveLength(2)
    expect((await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', '203.0.113.7'])).code).toBe(0)
    await pWaitFor(() => runs(mesh, 2).length === 1 && runs(mesh, 3).length === 1, { interval: 20, timeout: 10_000 })
    expect(runs(mesh, 2)).toEqual(['ban sshd tcp 22 203.0.113.7'])
    expect(runs(mesh, 3)).toEqual(['ban sshd tcp 22 203.0.113.7'])
    // the CLI inside the namespace shows the message counters
    const text = await mesh.fst(1, ['status'])
    expect(text.stdout).toMatch(/^messages: 1 published, 0 accepted; 0 hook calls changed nothing/m)
    expect((await mesh.status(2)).messages).toEqual({ published: 0, accepted: 1, suppressed: 0 })
    console.log(`netns: 3 hosts on 10.77.${mesh.run}.0/24 connected; a ban from host 1 ran on hosts 2 and 3`)
  })

  it('isolates and heals a host', async () => {
    expect(await mesh.tcpConnects(1, mesh.addr(3), FST_PORT)).toBe(true)
    await mesh.isolate(3)
    expect(await mesh.tcpConnects(1, mesh.addr(3), FST_PORT, 500)).toBe(false)
    await mesh.heal(3)
    await pWaitFor(() => mesh.tcpConnects(1, mesh.addr(3), FST_PORT), { interval: 100, timeout: 10_000 })
    await mesh.waitConnected()
    console.log('netns: host 3 unreachable while isolated, reachable and back in the mesh after heal')
  })
})
