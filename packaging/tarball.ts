import { execFile } from 'node:child_process'
import { basename, dirname } from 'node:path'
import { promisify } from 'node:util'

/**
 * A gzipped tarball at `out`, owned by root, names sorted: the folder `top` itself, or with `members` the
 * names given inside it (no top folder: fst-geoip's tarball unpacks into the fst tarball's folder).
 */
export async function buildTarball (top: string, out: string, members?: string[]): Promise<void> {
  const from = members === undefined ? ['-C', dirname(top), basename(top)] : ['-C', top, ...members]
  await promisify(execFile)('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', out, ...from])
}
