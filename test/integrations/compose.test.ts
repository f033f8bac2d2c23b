import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '@fst/node/config'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../utils/mesh.js'

const DIR = join(ROOT, 'contrib/docker-compose')
const FILE = join(DIR, 'docker-compose.yml')

interface Service { build?: { context: string, dockerfile: string }, command: string[], volumes: string[], ports?: string[], cap_add?: string[] }

/**
 * Issue 5, compose: no container engine runs here, so the compose file is validated, not run. Debian's
 * docker-compose parses and normalises it; the test checks the mesh it describes, that the node config
 * it mounts is valid for `fst start`, and that every file the Dockerfile copies exists.
 */
describe('docker-compose mesh (validated, not run)', () => {
  it('is a valid compose file describing three nodes and the metrics service', () => {
    const out = spawnSync('docker-compose', ['-f', FILE, 'config'], { encoding: 'utf8' })
    expect(out.stderr).toBe('')
    expect(out.status).toBe(0)
    const services = (parse(out.stdout) as { services: Record<string, Service> }).services
    expect(Object.keys(services).sort()).toEqual(['fst1', 'fst2', 'fst3', 'metrics'])
    for (const name of ['fst1', 'fst2', 'fst3']) {
      expect(services[name]!.command).toEqual(['start', '--config', '/etc/fst/config.yml'])
      expect(services[name]!.build).toEqual({ context: ROOT, dockerfile: 'contrib/docker-compose/Dockerfile' })
      expect(services[name]!.volumes).toContain(`${DIR}/fst/config.yml:/etc/fst/config.yml:ro`)
      expect(services[name]!.volumes).toContain(`${name}-state:/var/lib/fst:rw`)
    }
    expect(services.metrics!.command).toEqual(['metrics', '--config', '/etc/fst/metrics.yml'])
    // every service's peers file lists all four
    const peers = readFileSync(join(DIR, 'fst/sync-peers.txt'), 'utf8').split('\n').filter(l => l !== '' && !l.startsWith('#'))
    expect(peers).toEqual(['fst1:4242', 'fst2:4242', 'fst3:4242', 'metrics:4242'])
    console.log('compose: docker-compose config accepts contrib/docker-compose/docker-compose.yml (3 nodes + metrics); validated, not run')
  })

  it('mounts node and metrics configs that FST accepts and builds from files that exist', () => {
    const config = loadConfig(join(DIR, 'fst/config.yml'))
    expect(config.stateDir).toBe('/var/lib/fst')
    expect(config.actionsDir).toBe('/etc/fst/actions')
    const metrics = loadConfig(join(DIR, 'fst/metrics.yml'))
    expect(metrics.metrics.listen).toBe('0.0.0.0:9464')
    expect(metrics.metrics.token?.length).toBeGreaterThanOrEqual(16)
    const dockerfile = readFileSync(join(DIR, 'Dockerfile'), 'utf8')
    const sources = [...dockerfile.matchAll(/\/opt\/fst\/([\w./-]+)/g)].map(m => m[1]!)
    expect(sources).toContain('contrib/nftables/fst-nft.batch')
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true)
  })
})
