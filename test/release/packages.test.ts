import { readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { ROOT, run } from '../utils/mesh.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version
/** Built once for the project by packages.setup.ts. */
const { out: OUT, arch: ARCH, geoip: GEOIP, sums: SUMS } = inject('packages')
const ARTEFACTS = [
  `fst_${VERSION}_amd64.deb`, `fst_${VERSION}_arm64.deb`, `fst-${VERSION}-1.x86_64.rpm`, `fst-${VERSION}-1.aarch64.rpm`,
  `fst-${VERSION}-linux-x64.tar.gz`, `fst-${VERSION}-linux-arm64.tar.gz`,
  `fst-geoip_${VERSION}_all.deb`, `fst-geoip-${VERSION}-1.noarch.rpm`, `fst-geoip-${VERSION}.tar.gz`
]
/** Issue 25: the node's package installs in at most 130 MB (it was 250 MB with the GeoIP data and a node_modules tree). */
const MAX_INSTALLED_MB = 130

/**
 * Issue 27: `pnpm package` (packaging/build.ts) makes the six packages of fst, the three of fst-geoip and
 * SHA256SUMS; lintian finds nothing in the .debs (packaging/debian/lintian-overrides explains what it
 * would), rpmlint nothing in the RPMs (packaging/rpm/rpmlint.toml explains each filtered tag). The linters
 * run together: each takes a minute.
 */
describe('the release artefacts', () => {
  it('SHA256SUMS names the nine packages, and sha256sum -c verifies them', async () => {
    const listed = readFileSync(SUMS, 'utf8').split('\n').filter(Boolean).map(l => l.split('  ')[1])
    expect(listed.sort()).toEqual([...ARTEFACTS].sort())
    expect([...Object.values(ARCH), GEOIP].flatMap(a => Object.values(a)).map(f => basename(f)).sort()).toEqual([...ARTEFACTS].sort())
    const check = await run('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: OUT, timeout: 120_000 })
    expect(check.stderr).toBe('')
    expect(check.code).toBe(0)
    expect(check.stdout.split('\n').filter(Boolean).sort()).toEqual(ARTEFACTS.map(a => `${a}: OK`).sort())
  }, 120_000)

  it('the node\'s .debs install in at most 130 MB, without the GeoIP data', async () => {
    for (const deb of [ARCH.x64.deb, ARCH.arm64.deb]) {
      const fields = await run('dpkg-deb', ['-f', deb, 'Installed-Size', 'Recommends'])
      const [size, recommends] = fields.stdout.split('\n').map(l => l.replace(/^[\w-]+: /, ''))
      expect(Number(size) * 1024 / 1e6, basename(deb)).toBeLessThanOrEqual(MAX_INSTALLED_MB)
      expect(recommends).toContain('fst-geoip')
      const files = await run('dpkg-deb', ['-c', deb])
      expect(files.stdout).not.toContain('@ip-location-db')
      console.log(`release: ${basename(deb)} installs in ${(Number(size) * 1024 / 1e6).toFixed(1)} MB`)
    }
  })

  it('lintian finds nothing in the .debs, rpmlint nothing in the RPMs', async () => {
    const [lintian, rpmlint] = await Promise.all([
      run('lintian', ['--tag-display-limit', '0', ARCH.x64.deb, ARCH.arm64.deb, GEOIP.deb], { timeout: 480_000 }),
      run('rpmlint', ['-c', join(ROOT, 'packaging/rpm/rpmlint.toml'), ARCH.x64.rpm, ARCH.arm64.rpm, GEOIP.rpm], { timeout: 480_000 })
    ])
    const tags = lintian.stdout.split('\n').filter(l => /^[EWIXPO]: /.test(l))
    expect(tags).toEqual([])
    expect(lintian.stderr).not.toMatch(/^[EW]: /m)
    expect(lintian.code).toBe(0)
    // `fst.x86_64: W: <tag> …` lines, then the summary
    expect(rpmlint.stdout.split('\n').filter(l => /^fst(-geoip)?\.\w+: [EW]: /.test(l))).toEqual([])
    expect(rpmlint.stdout).toMatch(/ 3 packages and 0 specfiles checked; 0 errors, 0 warnings, 0 badness;/)
    expect(rpmlint.code).toBe(0)
    console.log('release: lintian: no tags on the amd64, arm64 and fst-geoip .debs; rpmlint: 0 errors, 0 warnings on the x86_64, aarch64 and noarch RPMs')
  }, 480_000)
})
