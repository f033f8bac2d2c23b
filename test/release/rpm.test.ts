import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { refuseInstalled, SERVICE_ENV as ENV } from '../utils/deb.js'
import { ROOT, run } from '../utils/mesh.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version
/** Built once for the project by packages.setup.ts. */
const { arch: ARCH, geoip: GEOIP } = inject('packages')
const SCRIPTLETS = { post: 'postinstall', preun: 'preuninstall', postun: 'postuninstall' } as const

/** Temp folders of the tests, removed after. */
const scratch: string[] = []
let createdState = false

async function ok (command: string, args: string[], options: { timeout?: number, env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const out = await run(command, args, { timeout: options.timeout ?? 120_000, env: options.env })
  if (out.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${out.code}:\n${out.stdout.slice(-2000)}\n${out.stderr.slice(-2000)}`)
  return out.stdout
}

/** `rpm -qp` of one package with a query format. */
const query = (rpm: string, format: string) => ok('rpm', ['-qp', '--qf', format, rpm])

/** The regular files of the .deb (`dpkg-deb -c`), as installed paths. */
async function debFiles (deb: string): Promise<string[]> {
  return (await ok('dpkg-deb', ['-c', deb])).split('\n').filter(l => l.startsWith('-')).map(l => l.replace(/^.* \.\//, '/')).sort()
}

/**
 * Issue 27: the RPMs (rpmbuild from packaging/rpm/fst.spec.in, no compiling) carry the .deb's files with the
 * units in RHEL's /usr/lib/systemd/system, the .deb's conffiles as %config(noreplace), and scriptlets that do
 * what its maintainer scripts do (run here for real: %post makes the state folders). The x86_64 RPM installs
 * into a scratch root (`rpm --root`, its database inside it; no scriptlets: the root has no shell) and its
 * fst runs from there. rpmlint: packages.test.ts.
 */
describe('the RPMs', () => {
  beforeAll(async () => {
    // %post below makes /var/lib/fst and /var/spool/fst on this machine: never where a real installation is
    await refuseInstalled()
  })

  afterAll(() => {
    for (const d of scratch) rmSync(d, { recursive: true, force: true })
    if (createdState) for (const d of ['/var/lib/fst', '/var/spool/fst']) rmSync(d, { recursive: true, force: true })
  })

  it.each([['x64', 'x86_64'], ['arm64', 'aarch64']] as const)('%s: fst %s with the .deb\'s dependencies', async (arch, rpmArch) => {
    const rpm = ARCH[arch].rpm
    expect(await query(rpm, '%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}')).toBe(`fst ${VERSION} 1 ${rpmArch} MIT`)
    const requires = (await ok('rpm', ['-qp', '--requires', rpm])).split('\n').filter(Boolean)
    expect(requires).toEqual(expect.arrayContaining(['libc.so.6(GLIBC_2.34)(64bit)', 'libstdc++.so.6(GLIBCXX_3.4.29)(64bit)', 'libgcc_s.so.1()(64bit)', 'python3']))
    // no generated requirement on a bundled module's interpreter or soname
    expect(requires.filter(r => !r.startsWith('rpmlib(') && r !== '/bin/sh')).toHaveLength(4)
    expect((await ok('rpm', ['-qp', '--recommends', rpm])).trim().split('\n')).toEqual(['fail2ban', 'fst-geoip'])
  })

  it.each(['x64', 'arm64'] as const)('%s: the .deb\'s files (units in /usr/lib/systemd/system), its conffiles as config(noreplace)', async arch => {
    const { rpm, deb } = ARCH[arch]
    const lines = (await query(rpm, '[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEFLAGS:fflags}\n]')).split('\n').filter(Boolean).map(l => l.split('\t') as [string, string, string])
    const files = lines.filter(([, mode]) => mode.startsWith('-')).map(([path]) => path).sort()
    // Debian's own: the lintian overrides and the Debian changelog (the RPM's is in its header)
    const debOnly = ['/usr/share/lintian/overrides/fst', '/usr/share/doc/fst/changelog.gz']
    const expected = (await debFiles(deb)).filter(f => !debOnly.includes(f)).map(f => f.replace(/^\/lib\/systemd\//, '/usr/lib/systemd/'))
    expect(files).toEqual(expected.sort())
    expect(files).toEqual(expect.arrayContaining(['/usr/bin/fst', '/usr/bin/fst-action', '/usr/lib/fst/node', '/usr/lib/systemd/system/fst-server.service']))

    const debConffiles = (await ok('dpkg-deb', ['-I', deb, 'conffiles'])).split('\n').filter(Boolean).sort()
    const config = lines.filter(([, , flags]) => flags.includes('c'))
    expect(config.map(([path]) => path).sort()).toEqual(debConffiles)
    for (const [path, , flags] of config) expect(flags, path).toContain('n')
    // every folder below /etc/fst is the package's, so an erase leaves none behind
    const dirs = lines.filter(([, mode]) => mode.startsWith('d')).map(([path]) => path)
    expect(dirs).toEqual(expect.arrayContaining(['/etc/fst', '/etc/fst/actions/ban.d', '/etc/fst/actions/unban.d', '/usr/lib/fst']))
    // the .deb's file modes: the launchers and action scripts executable, nothing else in /usr/lib/fst/app
    const modes = new Map(lines.map(([path, mode]) => [path, mode]))
    expect(modes.get('/usr/bin/fst')).toBe('-rwxr-xr-x')
    expect(modes.get('/etc/fst/actions/ban.d/50-fail2ban.batch')).toBe('-rwxr-xr-x')
    expect(lines.filter(([path, mode]) => path.startsWith('/usr/lib/fst/app/') && mode.startsWith('-') && mode !== '-rw-r--r--')).toEqual([])
  })

  it('fst-geoip: the noarch RPM has the .deb\'s files, and both only the data FST reads with its licences', async () => {
    const files = (await query(GEOIP.rpm, '[%{FILENAMES}\t%{FILEMODES:perms}\n]')).split('\n').filter(l => l.includes('\t-')).map(l => l.split('\t')[0]!).sort()
    const deb = (await debFiles(GEOIP.deb)).filter(f => f !== '/usr/share/doc/fst-geoip/changelog.gz')
    expect(files).toEqual(deb)
    const data = files.filter(f => /\.(csv|mmdb)$/.test(f)).map(f => f.replace('/usr/lib/fst/app/node_modules/@ip-location-db/', ''))
    expect(data.sort()).toEqual(['asn/asn-ipv4-num.csv', 'asn/asn-ipv6-num.csv', 'geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb'])
    expect(files).toEqual(expect.arrayContaining(['/usr/share/doc/fst-geoip/copyright', '/usr/lib/fst/app/node_modules/@ip-location-db/asn/DBIP-LICENSE']))
  })

  it('rpm -qp --scripts: %post, %preun, %postun are packaging/rpm/\'s, valid sh', async () => {
    const scripts = await ok('rpm', ['-qp', '--scripts', ARCH.x64.rpm])
    for (const [file, label] of Object.entries(SCRIPTLETS)) {
      const text = readFileSync(join(ROOT, 'packaging/rpm', file), 'utf8').trimEnd()
      expect(scripts).toContain(`${label} scriptlet (using /bin/sh):\n${text}\n`)
      expect((await run('sh', ['-n', join(ROOT, 'packaging/rpm', file)])).code, file).toBe(0)
    }
    // the aarch64 package has the same scriptlets
    expect(await ok('rpm', ['-qp', '--scripts', ARCH.arm64.rpm])).toBe(scripts)
  })

  it('the scriptlets do what the .deb\'s maintainer scripts do: %post makes the state and spool folders, the erase ones succeed without systemd', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fst-rpm-scripts-'))
    scratch.push(dir)
    const scriptlet = async (name: keyof typeof SCRIPTLETS, arg: string) => {
      // rpm runs a scriptlet as `/bin/sh <file> <count of this package's versions installed after>`
      const text = await query(ARCH.x64.rpm, `%{${name === 'post' ? 'POSTIN' : name === 'preun' ? 'PREUN' : 'POSTUN'}}`)
      const file = join(dir, name)
      writeFileSync(file, text)
      return run('sh', [file, arg], { env: ENV })
    }
    createdState = true
    expect((await scriptlet('post', '1')).code).toBe(0)
    expect(statSync('/var/lib/fst').mode & 0o7777).toBe(0o750)
    expect(readdirSync('/var/lib/fst')).toEqual([])
    expect(statSync('/var/spool/fst').mode & 0o7777).toBe(0o700)
    // an upgrade (2) keeps them; erase scriptlets of an upgrade (1) and of an erase (0) succeed without systemd
    expect((await scriptlet('post', '2')).code).toBe(0)
    for (const arg of ['1', '0']) {
      expect((await scriptlet('preun', arg)).code).toBe(0)
      expect((await scriptlet('postun', arg)).code).toBe(0)
    }
    // RPM has no purge: the state stays after an erase, as after dpkg -r
    expect(existsSync('/var/lib/fst')).toBe(true)
  })

  it('installs into a scratch root (rpm --root, database inside it): rpm knows its config files, fst runs from there', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fst-rpm-root-'))
    scratch.push(root)
    const rpmArgs = ['--root', root, '--dbpath', '/var/lib/rpm']
    await ok('rpm', [...rpmArgs, '--initdb'])
    // no dependencies in the empty database; no scriptlets: the root has no /bin/sh
    await ok('rpm', [...rpmArgs, '-i', '--nodeps', '--noscripts', ARCH.x64.rpm], { timeout: 180_000 })
    expect(existsSync(join(root, 'var/lib/rpm'))).toBe(true)
    expect((await ok('rpm', [...rpmArgs, '-q', 'fst'])).trim()).toBe(`fst-${VERSION}-1.x86_64`)
    expect((await ok('rpm', [...rpmArgs, '-q', '--configfiles', 'fst'])).split('\n')).toContain('/etc/fst/config.yml')
    // the files rpm wrote match its digests
    expect(await ok('rpm', [...rpmArgs, '-V', '--nodeps', '--noscripts', 'fst'])).toBe('')
    // /usr/bin/fst names /usr/lib/fst; the payload's own launcher finds itself anywhere
    expect(readFileSync(join(root, 'usr/bin/fst'), 'utf8')).toMatch(/^lib=\/usr\/lib\/fst$/m)
    const fst = await run(join(root, 'usr/lib/fst/bin/fst'), ['--version'], { env: ENV })
    expect(fst.stdout).toMatch(new RegExp(`^fst ${VERSION.replaceAll('.', '\\.')} \\(.*Node ${process.version}\\)\\n$`))
    expect(fst.code).toBe(0)
  }, 240_000)
})
