import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

/**
 * Where the repository's files go in the Debian package, the RPM and the tarball. The tarball keeps the layout
 * of a clone (the code directory /opt/fst of contrib/ and the docs: bin/, contrib/, docs/, etc/ for /etc/fst);
 * the package follows the FHS and its copies of the units and examples name the installed paths.
 */

/** contrib/ folders not shipped: the compose setup builds its own image from a clone. */
const NOT_SHIPPED = new Set(['docker-compose'])

/** Copies `from` (a file or a folder, recursively) to `to`, keeping the executable bit, through `edit`. */
export function copyTree (from: string, to: string, edit: (text: string, path: string) => string = t => t): void {
  if (statSync(from).isDirectory()) {
    for (const name of readdirSync(from).sort()) copyTree(join(from, name), join(to, name), edit)
    return
  }
  mkdirSync(dirname(to), { recursive: true })
  const mode = (statSync(from).mode & 0o111) !== 0 ? 0o755 : 0o644
  const text = readFileSync(from, 'utf8')
  const edited = edit(text, from)
  if (edited === text) copyFileSync(from, to)
  else writeFileSync(to, edited)
  chmodSync(to, mode)
}

/**
 * The package's copy of a shipped text: commands and units point at /usr/bin and /usr/share/doc/fst instead of
 * a clone's /usr/local/bin and /opt/fst. Comments stay as written (they explain the clone's layout too).
 */
export function installedPaths (text: string): string {
  return text.split('\n').map(line => /^\s*#/.test(line)
    ? line
    : line.replaceAll('/usr/local/bin/', '/usr/bin/').replaceAll('file:/opt/fst/docs/', 'file:/usr/share/doc/fst/docs/')).join('\n')
}

function copyContrib (root: string, to: string, edit?: (text: string) => string): void {
  for (const name of readdirSync(join(root, 'contrib')).sort()) {
    if (!NOT_SHIPPED.has(name)) copyTree(join(root, 'contrib', name), join(to, name), edit)
  }
}

/** /etc/fst (config, actions): the same in both; every file below `etc/` is a conffile of the package. */
function copyEtc (root: string, here: string, to: string): void {
  copyTree(join(root, 'config.yml.dist'), join(to, 'config.yml.dist'))
  copyTree(join(here, 'config.yml'), join(to, 'config.yml'))
  copyTree(join(root, 'actions'), join(to, 'actions'))
}

/** Where each package format installs the systemd units: Debian's /lib (merged or not), RHEL's /usr/lib. */
export const UNIT_DIRS = { deb: 'lib/systemd/system', rpm: 'usr/lib/systemd/system' } as const

/**
 * A package's files besides /usr/lib/fst and the format's own (DEBIAN/, the spec), into the package root
 * `tree`: the same for the .deb and the RPM but for the units' folder.
 */
export function packageLayout (root: string, here: string, tree: string, format: keyof typeof UNIT_DIRS): void {
  copyEtc(root, here, join(tree, 'etc/fst'))
  copyTree(join(root, 'contrib/logrotate.d/fst'), join(tree, 'etc/logrotate.d/fst'))
  for (const unit of ['fst-server.service', 'fst-metrics.service']) {
    copyTree(join(root, 'contrib/systemd', unit), join(tree, UNIT_DIRS[format], unit), installedPaths)
  }
  const doc = join(tree, 'usr/share/doc/fst')
  copyTree(join(root, 'README.md'), join(doc, 'README.md'))
  copyTree(join(root, 'docs'), join(doc, 'docs'))
  copyTree(join(root, 'sync-peers.txt.dist'), join(doc, 'examples/sync-peers.txt.dist'))
  copyContrib(root, join(doc, 'examples'), installedPaths)
}

/** The tarball's files besides the payload, into its top folder `top`. */
export function tarLayout (root: string, here: string, top: string): void {
  copyEtc(root, here, join(top, 'etc'))
  copyTree(join(root, 'README.md'), join(top, 'README.md'))
  copyTree(join(root, 'docs'), join(top, 'docs'))
  copyTree(join(root, 'sync-peers.txt.dist'), join(top, 'sync-peers.txt.dist'))
  copyContrib(root, join(top, 'contrib'))
}

/** Every regular file under `dir`, as paths relative to it, sorted. */
export function filesUnder (dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile()) out.push(relative(dir, p))
    }
  }
  walk(dir)
  return out
}
