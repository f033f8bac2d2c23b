import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ROOT, run } from './mesh.js'

/**
 * Earlier releases, built from their commits for the upgrade tests. The commit of a release is read from
 * CHANGELOG.md (`## <version> (<date>)` then `Commit: <40 hex>`), not from the git tag: a CI clone may carry
 * no tags. A release is checked out with `git worktree add --detach` into a cache folder keyed by commit and
 * built there once (`pnpm install --frozen-lockfile --prefer-offline`, `pnpm build`); later runs reuse it.
 */

/** Where built releases are kept between runs: inside this checkout's node_modules, so a clean clone starts empty. */
export const RELEASE_CACHE = join(ROOT, 'node_modules/.cache/fst-releases')
/** Written into a release's tree once its build finished: a tree without it is a half-done build. */
const BUILT_MARK = '.fst-release-built'

export class ReleaseError extends Error {
  static override name = 'ReleaseError'
  override name = 'ReleaseError'
}

/** The commit CHANGELOG.md records for a release version. */
export function releaseCommit (version: string): string {
  const text = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')
  const at = text.search(new RegExp(`^## ${version.replaceAll('.', '\\.')} \\(`, 'm'))
  if (at < 0) throw new ReleaseError(`CHANGELOG.md has no "## ${version} (<date>)" entry`)
  const commit = /^Commit: ([0-9a-f]{40})$/m.exec(text.slice(at).split(/^## /m)[1] ?? '')?.[1]
  if (commit === undefined) throw new ReleaseError(`CHANGELOG.md's entry for ${version} names no "Commit: <40 hex>" line`)
  return commit
}

/** A built release: its checkout and the entry points the tests run. */
export interface BuiltRelease {
  version: string
  commit: string
  dir: string
  /** `packages/cli/bin/fst.js` of that release. */
  fst: string
  /** `packages/cli/bin/fst-action.cjs` of that release. */
  fstAction: string
  /** Seconds the build took in this call; 0 when it came from the cache. */
  buildS: number
}

/** The environment of a build: the Node that runs the tests first in PATH, so pnpm and the bins use it. */
function buildEnv (): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, CI: 'true' }
}

async function step (command: string, args: string[], cwd: string, timeout: number): Promise<void> {
  const out = await run(command, args, { cwd, timeout, env: buildEnv() })
  if (out.code !== 0) throw new ReleaseError(`${command} ${args.join(' ')} in ${cwd} exited ${out.code}:\n${out.stdout.slice(-4000)}\n${out.stderr.slice(-4000)}`)
}

/** Removes a release's checkout and git's record of it. */
async function removeTree (dir: string): Promise<void> {
  await run('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT })
  rmSync(dir, { recursive: true, force: true })
  await run('git', ['worktree', 'prune'], { cwd: ROOT })
}

/**
 * Builds the release `version` (its commit from CHANGELOG.md) or takes it from the cache. A missing commit
 * (a shallow clone) fails with what to do: these tests are the upgrade guarantee and must not skip.
 */
export async function buildRelease (version: string): Promise<BuiltRelease> {
  const commit = releaseCommit(version)
  const dir = join(RELEASE_CACHE, commit)
  const release = { version, commit, dir, fst: join(dir, 'packages/cli/bin/fst.js'), fstAction: join(dir, 'packages/cli/bin/fst-action.cjs') }
  if (existsSync(join(dir, BUILT_MARK))) return { ...release, buildS: 0 }

  const known = await run('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: ROOT })
  if (known.code !== 0) {
    throw new ReleaseError(`commit ${commit} of release ${version} (CHANGELOG.md) is not in this clone` +
      ' (a shallow clone? `git fetch --unshallow`, or clone without --depth)')
  }
  const started = performance.now()
  // a half-built tree of an interrupted run
  if (existsSync(dir)) await removeTree(dir)
  mkdirSync(RELEASE_CACHE, { recursive: true })
  try {
    await step('git', ['worktree', 'add', '--detach', dir, commit], ROOT, 60_000)
    // the pnpm store of this checkout's install holds the same lockfile's packages: no network when it does
    await step('pnpm', ['install', '--frozen-lockfile', '--prefer-offline'], dir, 600_000)
    await step('pnpm', ['build'], dir, 600_000)
    writeFileSync(join(dir, BUILT_MARK), `${new Date().toISOString()}\n`)
  } catch (err) {
    await removeTree(dir)
    throw err
  }
  return { ...release, buildS: (performance.now() - started) / 1000 }
}

/**
 * The .deb of a built release (`packaging/build.ts` of that release's tree, gzip), made once and kept in the
 * release's cache folder. `buildS`: seconds this call took to make it, 0 when it was cached.
 */
export async function packageRelease (release: BuiltRelease): Promise<{ deb: string, buildS: number }> {
  const out = join(release.dir, 'dist-release')
  const deb = join(out, `fst_${release.version}_amd64.deb`)
  if (existsSync(deb)) return { deb, buildS: 0 }
  const started = performance.now()
  const staging = `${out}.tmp`
  rmSync(staging, { recursive: true, force: true })
  try {
    await step(process.execPath, ['--import', 'tsx', 'packaging/build.ts', '--out', staging, '--compression', 'gzip', '--only', 'deb'], release.dir, 600_000)
    // the .deb appears only when complete: an interrupted build leaves no file a later run would trust
    rmSync(out, { recursive: true, force: true })
    renameSync(staging, out)
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  if (!existsSync(deb)) throw new ReleaseError(`packaging/build.ts of release ${release.version} made no ${deb}`)
  return { deb, buildS: (performance.now() - started) / 1000 }
}
