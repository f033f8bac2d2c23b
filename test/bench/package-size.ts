import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../utils/mesh.js'
import { round } from './stats.js'

/**
 * Issue 25's package figures: the x86-64 .deb of fst and of fst-geoip as `pnpm package` makes them (xz), their
 * sizes and Installed-Size. Built into a temporary folder.
 */
export function packageSizes () {
  const out = mkdtempSync(join(tmpdir(), 'fst-bench-package-'))
  try {
    execFileSync(process.execPath, ['--import', 'tsx', 'packaging/build.ts', '--only', 'deb', '--arch', 'x64', '--compression', 'xz', '--out', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
    const { version } = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string }
    const figures = (file: string) => {
      const installedKiB = Number(execFileSync('dpkg-deb', ['-f', file, 'Installed-Size'], { encoding: 'utf8' }).trim())
      return { mb: round(statSync(file).size / 1e6), installedMb: round(installedKiB * 1024 / 1e6) }
    }
    const fst = figures(join(out, `fst_${version}_amd64.deb`))
    const geoip = figures(join(out, `fst-geoip_${version}_all.deb`))
    return { deb_mb: fst.mb, deb_installed_mb: fst.installedMb, geoip_deb_mb: geoip.mb, geoip_installed_mb: geoip.installedMb }
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}
