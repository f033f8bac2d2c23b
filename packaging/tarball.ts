import { execFileSync } from 'node:child_process'
import { dirname, basename } from 'node:path'

/** `top` (a folder) as a gzipped tarball at `out`, owned by root, names sorted. */
export function buildTarball (top: string, out: string): void {
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', out, '-C', dirname(top), basename(top)], { stdio: ['ignore', 'ignore', 'inherit'] })
}
