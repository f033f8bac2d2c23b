import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import pWaitFor from 'p-wait-for'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../utils/mesh.js'
import { leftoverNamespaces, NetnsMesh } from '../utils/netns.js'

const SCRIPT = join(ROOT, 'contrib/modsecurity/fst-modsec-exec')
/** The hook's one-file bundle (what bin/fst-action.cjs loads), runnable without the rest of the checkout. */
const HOOK_BUNDLE = join(ROOT, 'packages/cli/dist/hook/fst-action.cjs')
const MODULES = '/usr/lib/apache2/modules'
const HTTP_PORT = 8080
const RECORD = `#!/bin/sh
printf '%s %s %s\\n' "$FST_ACTION" "$*" "$FST_DURATION" >> ../../runs.log
`

/** GET from inside a host; returns the HTTP status. */
async function get (mesh: NetnsMesh, from: number, url: string): Promise<number> {
  const out = await mesh.exec(from, process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then(r => console.log(r.status), e => { console.error(e.message); process.exit(1) })`])
  if (out.code !== 0) throw new Error(`GET ${url} from host ${from}: ${out.stderr}`)
  return Number(out.stdout.trim())
}

/** The first folder on the way to `path` that users other than root cannot enter, or null. */
function closedFolder (path: string): string | null {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return dir
    if (dir === dirname(dir)) return null
  }
}

/**
 * Issue 5, ModSecurity v2 for real: Apache (apache2-bin) with mod_security2 on host 1, running its children
 * as www-data, a rule that denies /wp-login.php and exec:s contrib/modsecurity/fst-modsec-exec. Host 3 asks
 * for /wp-login.php → 403, and host 2's ban.d receives the ban of host 3's address with the rule's name and
 * duration. The script reaches the node's socket as www-data through controlGroup.
 * Issue 24: what www-data runs (the exec: script, the hook, node) must not depend on where the checkout
 * lives (a clone under /root or `mktemp -d` is closed to other users): the script and the hook's bundle are
 * copied into the test's own 0711 folders, and node's own path is checked.
 */
describe('ModSecurity v2 in Apache, in namespaces', () => {
  let mesh: NetnsMesh
  let apacheDir: string

  beforeAll(async () => {
    if (!existsSync(join(MODULES, 'mod_security2.so'))) throw new Error('needs apache2-bin and libapache2-mod-security2 (installed by .ci/run)')
    mesh = await NetnsMesh.create({
      hosts: 3,
      fstHosts: [1, 2],
      // www-data must reach host 1's socket: traversable dirs, socket group www-data (mode 0660)
      config: i => (i === 1 ? { controlSocket: 'run/fst.sock', controlGroup: 'www-data' } : {}),
      prepare: (host, m) => {
        chmodSync(m.root, 0o711)
        chmodSync(host.dir, 0o711)
        mkdirSync(join(host.dir, 'run'), { mode: 0o711 })
        if (host.index === 2) m.installScript(2, 'ban', '50-record', { body: RECORD })
      }
    })
    apacheDir = join(mesh.host(1).dir, 'apache')
    mkdirSync(join(apacheDir, 'tmp'), { recursive: true })
    chmodSync(join(apacheDir, 'tmp'), 0o1777)
    const closed = closedFolder(process.execPath)
    if (closed !== null) throw new Error(`www-data cannot run ${process.execPath}: ${closed} is closed to other users (chmod o+x it, or install node elsewhere)`)
    // copies www-data can reach: the checkout may sit in a folder it cannot enter
    const script = join(apacheDir, 'fst-modsec-exec')
    copyFileSync(SCRIPT, script)
    copyFileSync(HOOK_BUNDLE, join(apacheDir, 'fst-action.cjs'))
    chmodSync(script, 0o755)
    chmodSync(join(apacheDir, 'fst-action.cjs'), 0o644)
    // the hook as one word for FST_HOOK (setenv: values cannot hold spaces)
    const hook = join(apacheDir, 'fst-action')
    writeFileSync(hook, `#!/bin/sh\nexec ${process.execPath} ${join(apacheDir, 'fst-action.cjs')} "$@"\n`, { mode: 0o755 })
    for (const path of [script, hook]) expect(closedFolder(path)).toBeNull()
    writeFileSync(join(apacheDir, 'httpd.conf'), [
      `ServerRoot ${apacheDir}`, `Listen ${mesh.addr(1)}:${HTTP_PORT}`, `PidFile ${apacheDir}/httpd.pid`,
      `ErrorLog ${apacheDir}/error.log`, 'LogLevel warn', 'User www-data', 'Group www-data', 'ServerName fst-test',
      `LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so`, `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
      `LoadModule unique_id_module ${MODULES}/mod_unique_id.so`, `LoadModule security2_module ${MODULES}/mod_security2.so`,
      `DocumentRoot ${apacheDir}`, 'SecRuleEngine On', 'SecRequestBodyAccess Off', 'SecAuditEngine Off',
      `SecTmpDir ${apacheDir}/tmp`, `SecDataDir ${apacheDir}/tmp`,
      'SecRule REQUEST_URI "@beginsWith /wp-login.php" "id:1990002,phase:1,deny,status:403,log,' +
        `setenv:FST_NAME=modsec-wp,setenv:FST_DURATION=600,setenv:FST_SOCKET=${join(mesh.host(1).dir, 'run/fst.sock')},` +
        `setenv:FST_HOOK=${hook},exec:${script}"`,
      ''
    ].join('\n'))
    const apache = mesh.spawnIn(1, '/usr/sbin/apache2', ['-f', join(apacheDir, 'httpd.conf'), '-DFOREGROUND'])
    let exited = false
    apache.once('exit', () => { exited = true })
    await pWaitFor(async () => {
      if (exited) throw new Error(`apache2 exited:\n${apache.output()}`)
      return mesh.tcpConnects(3, mesh.addr(1), HTTP_PORT, 500)
    }, { interval: 100, timeout: 15_000 })
  })
  afterAll(async () => {
    await mesh?.destroy()
    expect(await leftoverNamespaces()).toEqual([])
  })

  it('bans the client of a denied request on the other node, and leaves other requests alone', async () => {
    expect(await get(mesh, 3, `http://${mesh.addr(1)}:${HTTP_PORT}/index.html`)).toBe(404)
    expect(await get(mesh, 3, `http://${mesh.addr(1)}:${HTTP_PORT}/wp-login.php`)).toBe(403)
    const runs = join(mesh.host(2).dir, 'runs.log')
    await pWaitFor(() => existsSync(runs), { interval: 50, timeout: 10_000 }).catch(() => {
      throw new Error(`no ban arrived; apache error log:\n${readFileSync(join(apacheDir, 'error.log'), 'utf8').slice(-3000)}`)
    })
    expect(readFileSync(runs, 'utf8').trim().split('\n')).toEqual([`ban modsec-wp tcp http,https ${mesh.addr(3)} 600`])
    console.log(`modsecurity: Apache + mod_security2 denied /wp-login.php from ${mesh.addr(3)}; exec: script (as www-data) published it; host 2 ran ban.d`)
  })
})
