import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { ROOT, run } from '../utils/mesh.js'

/** One architecture's packages, by Node's name of it (`x64`, `arm64`). */
export interface ArchPackages { deb: string, rpm: string, tarball: string }

/**
 * The current checkout's packages, built once for every file of the `release` project: `deb` and `tarball`
 * are x64's (this machine installs and runs them), `arch` every architecture's, `geoip` fst-geoip's (one for
 * every architecture), `sums` the SHA256SUMS file.
 */
export interface BuiltPackages { out: string, deb: string, tarball: string, arch: Record<'x64' | 'arm64', ArchPackages>, geoip: ArchPackages, sums: string }

declare module 'vitest' {
  export interface ProvidedContext { packages: BuiltPackages }
}

/**
 * globalSetup of the `release` project: `packaging/build.ts` (what `pnpm package` runs after the build) makes
 * this checkout's .debs, RPMs and tarballs for x64 and arm64 once, for every file of the project (a build
 * takes 60-180 s on two cores); the folder is removed after the project ran, also when a build failed.
 * $FST_RELEASE_PACKAGES names a folder `pnpm package --compression gzip --out DIR` of this checkout filled
 * already: its files are linked into the folder instead (to rerun one file while working on it).
 */
export default async function setup (project: TestProject): Promise<() => void> {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }
  const out = mkdtempSync(join(tmpdir(), 'fst-release-'))
  const started = performance.now()
  const prebuilt = process.env.FST_RELEASE_PACKAGES
  // gzip: xz (the release default) takes minutes on a loaded 2-core machine; zstd, lintian 2.116 cannot read
  const built = prebuilt === undefined
    ? await run(process.execPath, ['--import', 'tsx', 'packaging/build.ts', '--out', out, '--compression', 'gzip'], { cwd: ROOT, timeout: 600_000 })
    : await run('cp', ['-a', '--link', '-T', prebuilt, out])
  if (built.code !== 0) {
    rmSync(out, { recursive: true, force: true })
    throw new Error(`packaging/build.ts failed:\n${built.stdout}\n${built.stderr}`)
  }
  const arch = (node: 'x64' | 'arm64', deb: string, rpm: string): ArchPackages => ({
    deb: join(out, `fst_${version}_${deb}.deb`), rpm: join(out, `fst-${version}-1.${rpm}.rpm`), tarball: join(out, `fst-${version}-linux-${node}.tar.gz`)
  })
  const archs = { x64: arch('x64', 'amd64', 'x86_64'), arm64: arch('arm64', 'arm64', 'aarch64') }
  const geoip = { deb: join(out, `fst-geoip_${version}_all.deb`), rpm: join(out, `fst-geoip-${version}-1.noarch.rpm`), tarball: join(out, `fst-geoip-${version}.tar.gz`) }
  const packages = { out, deb: archs.x64.deb, tarball: archs.x64.tarball, arch: archs, geoip, sums: join(out, 'SHA256SUMS') }
  const sizes = [...Object.values(archs), geoip].flatMap(a => Object.values(a)).map(f => `${basename(f)} ${(statSync(f).size / 1e6).toFixed(1)} MB`)
  console.log(`release: built in ${((performance.now() - started) / 1000).toFixed(0)} s: ${sizes.join(', ')}`)
  project.provide('packages', packages)
  return () => rmSync(out, { recursive: true, force: true })
}
