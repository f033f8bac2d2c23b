import { execFile } from 'node:child_process'
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Arch } from './arch.js'
import { type BuildInfo, HOMEPAGE, MAINTAINER, packageDocs, template } from './deb.js'
import { filesUnder } from './layout.js'

/**
 * The RPM of a staged package root: the same files as the .deb (the payload in /usr/lib/fst, /etc/fst, the
 * launchers, docs and examples), the units in /usr/lib/systemd/system (RHEL's unit folder; /lib is a link
 * to it there, owned by the filesystem package), every file under etc/ `%config(noreplace)` as the .deb's
 * conffiles are, and scriptlets (packaging/rpm/) doing what the .deb's maintainer scripts do.
 */

/** The .deb's `-Z` compressions as rpmbuild payload settings (`_binary_payload`), at dpkg-deb's levels. */
const PAYLOAD: Record<string, string> = { xz: 'w6.xzdio', gzip: 'w6.gzdio', zstd: 'w3.zstdio', none: 'w0.ufdio' }

/** The file name `rpmbuild` gives the package of `arch`. */
export function rpmName (version: string, arch: Arch): string {
  return `fst-${version}-1.${arch.rpm}.rpm`
}

/** An RPM %changelog entry for this build. */
export function rpmChangelog (info: BuildInfo): string {
  // `Thu Dec 04 2026`: RPM wants the weekday, the month's name, a two-digit day
  const [weekday, day, month, year] = new Date(info.date * 1000).toUTCString().split(' ')
  const from = info.commit === null ? '' : `, built from git ${info.commit}`
  return `* ${weekday!.slice(0, 3)} ${month} ${day} ${year} ${MAINTAINER} - ${info.version}-1\n- Release ${info.version}${from}.`
}

/** A path in %files: RPM reads glob characters, `%` and whitespace in a name, so those are escaped or quoted. */
function filePath (path: string): string {
  if (/[\s"\\]/.test(path)) throw new Error(`${path}: a file name %files cannot list`)
  return `/${path}`.replace(/%/g, '%%').replace(/([*?[\]{}])/g, '\\$1')
}

/**
 * The %files list: /etc/fst's folders owned and its files (with /etc/logrotate.d/fst) `%config(noreplace)`;
 * /usr/lib/fst and /usr/share/doc/fst (%doc) whole, folders included; the rest file by file. Owner root whoever builds.
 */
function fileList (tree: string): string {
  const lines = ['%defattr(-,root,root,-)']
  const dirs = (d: string): string[] => readdirSync(join(tree, d)).sort().filter(n => lstatSync(join(tree, d, n)).isDirectory()).flatMap(n => [join(d, n), ...dirs(join(d, n))])
  lines.push('%dir /etc/fst', ...dirs('etc/fst').map(d => `%dir ${filePath(d)}`))
  lines.push('/usr/lib/fst', '%doc /usr/share/doc/fst')
  for (const file of filesUnder(tree)) {
    if (file.startsWith('usr/lib/fst/') || file.startsWith('usr/share/doc/fst/')) continue
    lines.push(file.startsWith('etc/') ? `%config(noreplace) ${filePath(file)}` : filePath(file))
  }
  return lines.join('\n')
}

/**
 * Turns the staged package root `tree` (usr/, etc/ filled in, units in usr/lib/systemd/system) into
 * `out/fst-<v>-1.<arch>.rpm` with rpmbuild, for the package's architecture.
 */
export async function buildRpm (here: string, tree: string, info: BuildInfo, arch: Arch, out: string, compression: string, work: string): Promise<string> {
  packageDocs(here, tree)
  const script = (name: string) => readFileSync(join(here, 'rpm', name), 'utf8').trimEnd()
  const spec = join(work, 'fst.spec')
  writeFileSync(spec, template(here, 'rpm/fst.spec.in', {
    VERSION: info.version,
    HOMEPAGE,
    MAINTAINER,
    POST: script('post'),
    PREUN: script('preun'),
    POSTUN: script('postun'),
    FILES: fileList(tree),
    CHANGELOG: rpmChangelog(info)
  }))
  await rpmbuild(spec, tree, `${arch.rpm}-linux`, out, compression, work)
  return join(out, rpmName(info.version, arch))
}

/**
 * rpmbuild packing the staged `tree` in place as the package `spec` describes, for `target` (`x86_64-linux`,
 * `noarch`), into `out`: nothing is compiled and RPM's post-install steps (strip, compress, build-id links)
 * are off, the payload being final already.
 */
export async function rpmbuild (spec: string, tree: string, target: string, out: string, compression: string, work: string): Promise<void> {
  const payload = PAYLOAD[compression]
  if (payload === undefined) throw new Error(`--compression ${compression}: one of ${Object.keys(PAYLOAD).join(', ')}`)
  const top = join(work, 'rpmbuild')
  mkdirSync(top, { recursive: true })
  // the staged tree is the build root: rpmbuild packs it in place (--noclean: and leaves it)
  await promisify(execFile)('rpmbuild', ['-bb', '--quiet', '--noclean', '--target', target, '--buildroot', tree,
    '--define', `_topdir ${top}`,
    '--define', `_rpmdir ${out}`,
    '--define', '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm',
    '--define', `_binary_payload ${payload}`,
    '--define', '__os_install_post %{nil}',
    '--define', 'debug_package %{nil}',
    '--define', '_build_id_links none',
    spec], { cwd: work, maxBuffer: 16 * 1024 * 1024 })
}
