import { execFile } from 'node:child_process'
import { basename, dirname } from 'node:path'
import { promisify } from 'node:util'

/** `top` (a folder) as a gzipped tarball at `out`, owned by root, names sorted. */
export async function buildTarball (top: string, out: string): Promise<void> {
  await promisify(execFile)('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', out, '-C', dirname(top), basename(top)])
}
