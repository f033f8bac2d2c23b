import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { FST, runBin } from '../utils/mesh.js'

describe('fst metrics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-metrics-cli-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('refuses to listen beyond loopback without a token: one line, non-zero exit', async () => {
    writeFileSync(join(dir, 'sync-peers.txt'), '127.0.0.1:1\n')
    const config = join(dir, 'config.yml')
    writeFileSync(config, stringify({ listen: ['127.0.0.1:0'], peersFile: 'sync-peers.txt', stateDir: 'state', metrics: { listen: '0.0.0.0:0' } }))
    const out = await runBin(FST, ['metrics', '--config', config])
    expect(out.code).toBe(2)
    expect(out.stderr).toMatch(/^fst: metrics\.token: required when metrics\.listen is not a loopback address/)
    expect(out.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('names the key of a bad metrics setting', async () => {
    const config = join(dir, 'bad.yml')
    writeFileSync(config, stringify({ metrics: { token: 'short' } }))
    const out = await runBin(FST, ['metrics', '--config', config])
    expect(out.code).toBe(2)
    expect(out.stderr).toMatch(/metrics\.token/)
  })
})
