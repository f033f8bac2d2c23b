import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FST_ACTION, Mesh, ROOT } from '../utils/mesh.js'

const SCRIPT = join(ROOT, 'contrib/modsecurity/fst-modsec-exec')

/**
 * Issue 5, ModSecurity v2: the exec: script gets no arguments, only the environment ModSecurity sets
 * (REMOTE_ADDR, UNIQUE_ID, REQUEST_URI, variables from setenv:). Run it exactly so against a two-node
 * loopback mesh; the other node's ban.d must see the client address. (Apache + mod_security2 itself is
 * not run here: see docs/integrations/modsecurity.md.)
 */
describe('ModSecurity v2 exec script', () => {
  let mesh: Mesh

  beforeAll(async () => { mesh = await Mesh.create({ nodes: 2 }) })
  afterAll(async () => { await mesh?.stop() })

  function modsecExec (env: Record<string, string>) {
    // what apache's mod_security2 passes: a minimal CGI-like environment and no argv
    return spawnSync(SCRIPT, [], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        UNIQUE_ID: 'ZmFrZS11bmlxdWUtaWQ',
        REQUEST_URI: '/wp-login.php',
        REQUEST_METHOD: 'POST',
        SERVER_NAME: 'www.example.org',
        FST_HOOK: `${process.execPath} ${FST_ACTION}`,
        FST_SOCKET: mesh.socket(0),
        ...env
      }
    })
  }

  it('reports REMOTE_ADDR with the name and duration set by the rule', async () => {
    const run = modsecExec({ REMOTE_ADDR: '203.0.113.44', FST_NAME: 'modsec-wp', FST_DURATION: '600' })
    expect(run.status).toBe(0)
    expect(run.stdout).toBe('fst: reported 203.0.113.44 as modsec-wp\n')
    expect(await mesh.waitForRuns(1, 1)).toEqual(['ban modsec-wp tcp http,https 203.0.113.44'])
    const entries = await mesh.fst(1, ['list', '--json'])
    expect(entries.stdout).toContain('"duration":600')

    const v6 = modsecExec({ REMOTE_ADDR: '2001:db8::44' })
    expect(v6.stdout).toBe('fst: reported 2001:db8::44 as modsecurity\n')
    expect(await mesh.waitForRuns(1, 2)).toContain('ban modsecurity tcp http,https 2001:db8::44')
    console.log('modsecurity: exec script with ModSecurity\'s environment (no argv) published REMOTE_ADDR; peer ran ban.d with it')
  })

  it('reports nothing for an unusable REMOTE_ADDR and still prints a line for ModSecurity', async () => {
    for (const addr of ['', '203.0.113.1;id', '$(reboot)', '203.0.113.1 -x']) {
      const run = modsecExec({ REMOTE_ADDR: addr })
      expect(run.status).toBe(0)
      expect(run.stdout).toBe('fst: no usable REMOTE_ADDR, nothing reported\n')
    }
    // an address the node refuses (loopback is always protected): logged on stderr, request unaffected
    const refused = modsecExec({ REMOTE_ADDR: '127.0.0.1' })
    expect(refused.status).toBe(0)
    expect(refused.stdout).toBe('fst: report failed\n')
    expect(refused.stderr).toMatch(/could not report 127\.0\.0\.1/)
    expect(mesh.runs(1)).toHaveLength(2)
  })
})
