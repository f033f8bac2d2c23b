import { readdirSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'

/** A script in `<action>.d/` and how to start it. */
export interface Script {
  path: string
  /** File name, e.g. `50-fail2ban` or `50-nft.batch`. */
  name: string
  /** A batch script receives every event of a batch on stdin, one `name protocol port ip` line each. */
  batch: boolean
  /** The program and leading arguments to run it with (empty for a directly executable file). */
  interpreter: string[]
}

const WINDOWS_RUNNABLE: Record<string, string[]> = {
  '.exe': [],
  '.bat': ['cmd.exe', '/d', '/c'],
  '.cmd': ['cmd.exe', '/d', '/c'],
  '.ps1': ['powershell.exe', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File']
}

/**
 * Lists the scripts of one action folder in lexical (byte) order. POSIX: regular files with an execute bit.
 * Windows: .exe, .bat, .cmd and .ps1 files. Hidden files, editor backups and `.disabled` files are skipped.
 * A missing folder yields an empty list: the action is not handled here.
 */
export function listScripts (dir: string, platform: NodeJS.Platform = process.platform): Script[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter(name => !name.startsWith('.') && !name.endsWith('~') && !name.endsWith('.disabled'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(name => {
      const path = join(dir, name)
      const script = selectScript(name, path, platform)
      return script === null ? [] : [script]
    })
}

/** Decides whether a file is runnable on a platform and how; exported for unit tests of the Windows rules. */
export function selectScript (name: string, path: string, platform: NodeJS.Platform, stat = safeStat(path)): Script | null {
  if (stat === null || !stat.isFile()) return null
  const batch = /\.batch(\.|$)/.test(name)
  if (platform === 'win32') {
    const interpreter = WINDOWS_RUNNABLE[extname(name).toLowerCase()]
    return interpreter === undefined ? null : { path, name, batch, interpreter }
  }
  if ((stat.mode & 0o111) === 0) return null
  return { path, name, batch, interpreter: [] }
}

function safeStat (path: string) {
  try {
    return statSync(path)
  } catch {
    return null
  }
}
