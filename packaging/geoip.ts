import { linkSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { type BuildInfo, debChangelog, dpkgDeb, HOMEPAGE, MAINTAINER, template, writeControl } from './deb.js'
import { GEOIP_PACKAGES } from './payload.js'
import { rpmbuild, rpmChangelog } from './rpm.js'
import { buildTarball } from './tarball.js'
import { GEOIP_FILES } from '../packages/metrics/src/geo-files.js'

/**
 * fst-geoip: the offline country and AS databases the metrics service shows on its dashboard, a package of
 * its own (architecture-independent, built once) because most servers run only the node and the data is
 * most of the bytes. fst Recommends it; without it the dashboard works and says what is missing. It installs
 * where the bundles resolve the npm packages, /usr/lib/fst/app/node_modules/@ip-location-db (the tarball:
 * unpacked over the fst folder), so the code has one way to find them.
 */
const MODULES = 'app/node_modules'
const GEOIP_DIR = `${MODULES}/@ip-location-db`

/**
 * What fst-geoip keeps of each package: the tables the dashboard opens (GEOIP_FILES), the package metadata and
 * the licence texts. The npm packages also carry the same tables in other shapes (text CSVs, per-family mmdb
 * files), 40 of their 81 MB.
 */
const DATA_FILES = new Set(Object.values(GEOIP_FILES).map(file => basename(file)))
const METADATA = /^(package\.json|README\.md|MODIFICATIONS|[A-Z_-]*LICENSE)$/
const shipped = (file: string) => DATA_FILES.has(file) || METADATA.test(file)

/**
 * Moves the GeoIP packages out of a payload into `to` (the same relative folder), or only removes them when
 * `to` is null (the payload of a second architecture: the data is the same).
 */
export function takeGeoip (payload: string, to: string | null): void {
  const from = join(payload, GEOIP_DIR)
  if (to === null) {
    rmSync(from, { recursive: true })
    return
  }
  mkdirSync(join(to, GEOIP_DIR), { recursive: true })
  for (const name of GEOIP_PACKAGES) {
    const dir = join(to, MODULES, name)
    renameSync(join(payload, MODULES, name), dir)
    for (const file of readdirSync(dir)) if (!shipped(file)) rmSync(join(dir, file), { recursive: true })
  }
  rmSync(from, { recursive: true })
}

/**
 * Starts the builds of fst-geoip asked for (`deb`: fst-geoip_<v>_all.deb, `rpm`: fst-geoip-<v>-1.noarch.rpm,
 * `tar`: fst-geoip-<v>.tar.gz holding app/node_modules/@ip-location-db, to unpack in the fst tarball's folder)
 * into `out`, from the folder takeGeoip filled. Every tree is staged before any build reads one (see build.ts).
 */
export function buildGeoip (here: string, geoip: string, info: BuildInfo, formats: ReadonlySet<string>, out: string, compression: string, work: string): Array<Promise<string>> {
  const deb = join(work, 'geoip-deb')
  const rpm = join(work, 'geoip-rpm')
  if (formats.has('deb')) stage(here, geoip, deb)
  if (formats.has('rpm')) stage(here, geoip, rpm)
  const built: Array<Promise<string>> = []
  if (formats.has('deb')) {
    writeFileSync(join(deb, 'usr/share/doc/fst-geoip/changelog.gz'), gzipSync(debChangelog('fst-geoip', info), { level: 9 }))
    writeControl(here, deb, 'debian/geoip-control.in', { VERSION: info.version })
    const file = join(out, `fst-geoip_${info.version}_all.deb`)
    built.push(dpkgDeb(deb, file, compression).then(() => file))
  }
  if (formats.has('rpm')) {
    const spec = join(work, 'fst-geoip.spec')
    writeFileSync(spec, template(here, 'rpm/fst-geoip.spec.in', { VERSION: info.version, HOMEPAGE, MAINTAINER, CHANGELOG: rpmChangelog(info) }))
    built.push(rpmbuild(spec, rpm, 'noarch', out, compression, join(work, 'geoip-rpmbuild')).then(() => join(out, `fst-geoip-${info.version}-1.noarch.rpm`)))
  }
  if (formats.has('tar')) {
    const file = join(out, `fst-geoip-${info.version}.tar.gz`)
    built.push(buildTarball(geoip, file, ['app']).then(() => file))
  }
  return built
}

/** A package root: the data in /usr/lib/fst, the copyright file in /usr/share/doc/fst-geoip. */
function stage (here: string, geoip: string, tree: string): void {
  // hard links (41 MB, only read): the .deb, the RPM and the tarball are built at once from the same files
  for (const name of GEOIP_PACKAGES) {
    const to = join(tree, 'usr/lib/fst', MODULES, name)
    mkdirSync(to, { recursive: true })
    for (const file of readdirSync(join(geoip, MODULES, name))) linkSync(join(geoip, MODULES, name, file), join(to, file))
  }
  const doc = join(tree, 'usr/share/doc/fst-geoip')
  mkdirSync(doc, { recursive: true })
  writeFileSync(join(doc, 'copyright'), template(here, 'debian/geoip-copyright', { HOMEPAGE }))
}
