import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { ROOT, run } from '../utils/mesh.js'

/** The current checkout's packages, built once for every file of the `release` project. */
export interface BuiltPackages { out: string, deb: string, tarball: string }

declare module 'vitest' {
  export interface ProvidedContext { packages: BuiltPackages }
}

/**
 * globalSetup of the `release` project: `packaging/build.ts` (what `pnpm package` runs after the build) makes
 * this checkout's .deb and tarball once, for deb.test.ts and deb-upgrade.test.ts (a build takes 30-70 s on
 * two cores); the folder is removed after the project ran.
 */
export default async function setup (project: TestProject): Promise<() => void> {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }
  const out = mkdtempSync(join(tmpdir(), 'fst-release-'))
  const started = performance.now()
  // gzip: xz (the release default) takes minutes on a loaded 2-core machine
  const built = await run(process.execPath, ['--import', 'tsx', 'packaging/build.ts', '--out', out, '--compression', 'gzip'], { cwd: ROOT, timeout: 600_000 })
  if (built.code !== 0) {
    rmSync(out, { recursive: true, force: true })
    throw new Error(`packaging/build.ts failed:\n${built.stdout}\n${built.stderr}`)
  }
  const packages = { out, deb: join(out, `fst_${version}_amd64.deb`), tarball: join(out, `fst-${version}-linux-x64.tar.gz`) }
  console.log(`release: built ${packages.deb} (${(statSync(packages.deb).size / 1e6).toFixed(1)} MB) and the tarball (${(statSync(packages.tarball).size / 1e6).toFixed(1)} MB) in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  project.provide('packages', packages)
  return () => rmSync(out, { recursive: true, force: true })
}
