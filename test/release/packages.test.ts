import { readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, expect, inject, it } from 'vitest'
import { ROOT, run } from '../utils/mesh.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version
/** Built once for the project by packages.setup.ts. */
const { out: OUT, arch: ARCH, sums: SUMS } = inject('packages')
const ARTEFACTS = [
  `fst_${VERSION}_amd64.deb`, `fst_${VERSION}_arm64.deb`, `fst-${VERSION}-1.x86_64.rpm`, `fst-${VERSION}-1.aarch64.rpm`,
  `fst-${VERSION}-linux-x64.tar.gz`, `fst-${VERSION}-linux-arm64.tar.gz`
]

/**
 * Issue 27: `pnpm package` (packaging/build.ts) makes the six packages and SHA256SUMS; lintian finds nothing in
 * either .deb (packaging/debian/lintian-overrides explains what it would), rpmlint nothing in either RPM
 * (packaging/rpm/rpmlint.toml explains each filtered tag). The linters run together: each takes a minute.
 */
describe('the release artefacts', () => {
  it('SHA256SUMS names the six packages, and sha256sum -c verifies them', async () => {
    const listed = readFileSync(SUMS, 'utf8').split('\n').filter(Boolean).map(l => l.split('  ')[1])
    expect(listed.sort()).toEqual([...ARTEFACTS].sort())
    expect(Object.values(ARCH).flatMap(a => Object.values(a)).map(f => basename(f)).sort()).toEqual([...ARTEFACTS].sort())
    const check = await run('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: OUT, timeout: 120_000 })
    expect(check.stderr).toBe('')
    expect(check.code).toBe(0)
    expect(check.stdout.split('\n').filter(Boolean).sort()).toEqual(ARTEFACTS.map(a => `${a}: OK`).sort())
  }, 120_000)

  it('lintian finds nothing in either .deb, rpmlint nothing in either RPM', async () => {
    const [lintian, rpmlint] = await Promise.all([
      run('lintian', ['--tag-display-limit', '0', ARCH.x64.deb, ARCH.arm64.deb], { timeout: 480_000 }),
      run('rpmlint', ['-c', join(ROOT, 'packaging/rpm/rpmlint.toml'), ARCH.x64.rpm, ARCH.arm64.rpm], { timeout: 480_000 })
    ])
    const tags = lintian.stdout.split('\n').filter(l => /^[EWIXPO]: /.test(l))
    expect(tags).toEqual([])
    expect(lintian.stderr).not.toMatch(/^[EW]: /m)
    expect(lintian.code).toBe(0)
    // `fst.x86_64: W: <tag> …` lines, then the summary
    expect(rpmlint.stdout.split('\n').filter(l => /^fst\.\w+: [EW]: /.test(l))).toEqual([])
    expect(rpmlint.stdout).toMatch(/ 2 packages and 0 specfiles checked; 0 errors, 0 warnings, 0 badness;/)
    expect(rpmlint.code).toBe(0)
    console.log('release: lintian: no tags on the amd64 and arm64 .debs; rpmlint: 0 errors, 0 warnings on the x86_64 and aarch64 RPMs')
  }, 480_000)
})
