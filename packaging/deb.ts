import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import type { Arch } from './arch.js'
import { filesUnder } from './layout.js'

/** The package's identity; the repository address is a placeholder until the project has a public home. */
export const MAINTAINER = 'FST maintainers <fst@example.org>'
export const HOMEPAGE = 'https://example.org/fst'

export interface BuildInfo {
  version: string
  /** Git commit of the tree, if built from git. */
  commit: string | null
  /** Seconds since the epoch of the release (the commit's date in git): the changelog's date. */
  date: number
}

/** Fills `@KEY@` placeholders of a template (`debian/control.in`, `rpm/fst.spec.in`) below packaging/. */
export function template (here: string, name: string, values: Record<string, string>): string {
  return readFileSync(join(here, name), 'utf8').replace(/@([A-Z_]+)@/g, (all, key: string) => {
    const value = values[key]
    if (value === undefined) throw new Error(`${name}: no value for ${all}`)
    return value
  })
}

/** The docs both package formats carry: the copyright file and the manual pages, into the package root `tree`. */
export function packageDocs (here: string, tree: string): void {
  const doc = join(tree, 'usr/share/doc/fst')
  mkdirSync(doc, { recursive: true })
  writeFileSync(join(doc, 'copyright'), template(here, 'debian/copyright', { HOMEPAGE }))
  const man = join(tree, 'usr/share/man/man1')
  mkdirSync(man, { recursive: true })
  for (const page of ['fst.1', 'fst-action.1']) writeFileSync(join(man, `${page}.gz`), gzipSync(readFileSync(join(here, 'debian', page)), { level: 9 }))
}

/** A Debian changelog entry for this build (native package: usr/share/doc/<package>/changelog.gz). */
export function debChangelog (name: string, info: BuildInfo): string {
  const from = info.commit === null ? '' : `, built from git ${info.commit}`
  const date = new Date(info.date * 1000).toUTCString().replace('GMT', '+0000')
  return `${name} (${info.version}) unstable; urgency=medium\n\n  * Release ${info.version}${from}.\n\n -- ${MAINTAINER}  ${date}\n`
}

/**
 * DEBIAN/ of a staged package root: `control` from a template (with its Installed-Size), conffiles (every
 * file under etc/), md5sums.
 */
export function writeControl (here: string, tree: string, controlTemplate: string, values: Record<string, string>): void {
  const files = filesUnder(tree)
  const sizeKiB = files.reduce((sum, f) => sum + Math.ceil(statSync(join(tree, f)).size / 1024), 0)
  const control = join(tree, 'DEBIAN')
  mkdirSync(control)
  writeFileSync(join(control, 'control'), template(here, controlTemplate, { MAINTAINER, HOMEPAGE, INSTALLED_SIZE: String(sizeKiB), ...values }))
  const conffiles = files.filter(f => f.startsWith('etc/'))
  if (conffiles.length > 0) writeFileSync(join(control, 'conffiles'), conffiles.map(f => `/${f}\n`).join(''))
  writeFileSync(join(control, 'md5sums'), files.map(f => `${createHash('md5').update(readFileSync(join(tree, f))).digest('hex')}  ${f}\n`).join(''))
  for (const name of readdirSync(control)) chmodSync(join(control, name), 0o644)
}

/** dpkg-deb on a staged package root with DEBIAN/ written. */
export async function dpkgDeb (tree: string, out: string, compression: string): Promise<void> {
  // gzip at dpkg-deb's default level 9 takes three times as long as 6 for 1 % less
  const level = compression === 'gzip' ? ['-z6'] : []
  await promisify(execFile)('dpkg-deb', ['--root-owner-group', `-Z${compression}`, ...level, '--build', tree, out])
}

/**
 * Turns the staged package root `tree` (usr/, etc/, lib/ filled in) into `out` with dpkg-deb: adds the
 * docs Debian requires (copyright, changelog, manual pages), the lintian overrides, DEBIAN/ (writeControl's
 * files for `arch`, the maintainer scripts).
 */
export async function buildDeb (here: string, tree: string, info: BuildInfo, arch: Arch, out: string, compression: string): Promise<void> {
  packageDocs(here, tree)
  writeFileSync(join(tree, 'usr/share/doc/fst/changelog.gz'), gzipSync(debChangelog('fst', info), { level: 9 }))
  const lintian = join(tree, 'usr/share/lintian/overrides')
  mkdirSync(lintian, { recursive: true })
  copyFileSync(join(here, 'debian/lintian-overrides'), join(lintian, 'fst'))
  writeControl(here, tree, 'debian/control.in', { VERSION: info.version, ARCH: arch.deb })
  for (const script of ['postinst', 'prerm', 'postrm']) {
    copyFileSync(join(here, 'debian', script), join(tree, 'DEBIAN', script))
    chmodSync(join(tree, 'DEBIAN', script), 0o755)
  }
  // the state folder is made by postinst (0750) and kept on removal, so it is not among the package's files
  await dpkgDeb(tree, out, compression)
}
