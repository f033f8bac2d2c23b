import { accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { DirectLauncher } from './direct.js'
import { ForkServer } from './fork-server.js'
import type { Launcher } from './launcher.js'

/** Where the fork server's interpreter is looked for: the PATH scripts get, not the daemon's. */
const PERL_DIRS = ['/usr/local/bin', '/usr/bin', '/bin']

/**
 * The launcher for this platform. On POSIX with perl (Debian and most servers ship it), scripts are forked
 * by a small helper process: forking the ~120 MB daemon costs ~1.8 ms of CPU per script and blocks its event
 * loop until the child has exec'd, which on a loaded host took ~15 ms per ban (docs/benchmarks.md).
 * Elsewhere, and when perl is missing, the daemon spawns scripts itself.
 */
export function createLauncher (log: Logger, mode: 'auto' | 'spawn' = 'auto', platform: NodeJS.Platform = process.platform): Launcher {
  const perl = mode === 'spawn' || platform === 'win32' ? undefined : findPerl()
  const direct = new DirectLauncher()
  if (perl === undefined) {
    if (mode === 'auto') log.debug('no perl found: the daemon forks scripts itself')
    return direct
  }
  return new ForkServer(perl, direct, log)
}

function findPerl (): string | undefined {
  for (const dir of PERL_DIRS) {
    const path = join(dir, 'perl')
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {}
  }
  return undefined
}

export { DirectLauncher } from './direct.js'
export { ForkServer } from './fork-server.js'
export { formatOutput, MAX_SCRIPT_OUTPUT, type Launch, type Launcher, type LaunchRequest, type ScriptExit } from './launcher.js'
