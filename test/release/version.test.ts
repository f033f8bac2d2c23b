import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FST, FST_ACTION, ROOT, runBin } from '../utils/mesh.js'
import { releaseCommit } from '../utils/releases.js'

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }).version

/** Issue 17: `--version` of the built bins names the package version, the git commit of the build and Node. */
describe('fst --version and fst-action --version', () => {
  /** Whether `commit` names a commit of this repository (the build's; HEAD when built since the last commit). */
  const isCommit = (commit: string) => {
    try { return execFileSync('git', ['cat-file', '-t', commit], { cwd: ROOT, encoding: 'utf8' }).trim() === 'commit' } catch { return false }
  }

  it.each([['fst', FST], ['fst-action', FST_ACTION]])('%s prints the version, the commit and the Node version', async (name, bin) => {
    const out = await runBin(bin, ['--version'])
    expect(out.code).toBe(0)
    // the build may be of a tree with uncommitted changes; the commit it started from is named either way
    const m = new RegExp(`^${name} ([^ ]+) \\((?:git ([0-9a-f]{12})(-dirty)?, )?Node (v[\\d.]+)\\)\\n$`).exec(out.stdout)
    expect(m?.[1]).toBe(VERSION)
    // built from a git checkout (CI's clone): the commit is named
    if (existsSync(join(ROOT, '.git'))) expect(isCommit(m?.[2] ?? '')).toBe(true)
    expect(m?.[4]).toBe(process.version)
  })

  it('fst-action reads --version only as an option, never as an event field', async () => {
    const out = await runBin(FST_ACTION, ['ban', 'sshd', 'tcp', '22', '--version'])
    expect(out.code).not.toBe(0)
    expect(out.stdout).toBe('')
  })
})

/** Issue 24: one version for every package, and CHANGELOG.md names it; released versions name their commit. */
describe('the version and CHANGELOG.md', () => {
  it('every package carries the CLI\'s version, and CHANGELOG.md has a section for it', () => {
    const versions = readdirSync(join(ROOT, 'packages')).map(p => (JSON.parse(readFileSync(join(ROOT, 'packages', p, 'package.json'), 'utf8')) as { version: string }).version)
    expect(new Set(versions)).toEqual(new Set([VERSION]))
    const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')
    expect(changelog).toMatch(new RegExp(`^## (Unreleased \\(${VERSION.replaceAll('.', '\\.')}\\)|${VERSION.replaceAll('.', '\\.')} \\()`, 'm'))
  })

  it('release 0.1.0 names its commit, and the commit is in this clone', async () => {
    const commit = releaseCommit('0.1.0')
    expect(commit).toMatch(/^0568691/)
    expect(execFileSync('git', ['cat-file', '-t', commit], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('commit')
  })
})
