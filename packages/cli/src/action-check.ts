import { existsSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The hook stays permissive (any action spreads), but a person typing `fst` hears about a likely typo: when
 * this server has no `<action>.d/` folder, probably no server runs anything for it. Returns the warning, or
 * null; never throws (a config that cannot be read is reported by the command itself).
 */
export async function unknownActionWarning (action: string, config: string | undefined): Promise<string | null> {
  try {
    const { configPathFrom, loadConfig } = await import('@fst/node/config')
    const { actionsDir } = loadConfig(configPathFrom(config))
    const dir = join(actionsDir, `${action}.d`)
    if (existsSync(dir)) return null
    return `warning: no ${dir} on this server: if "${action}" is a typo, nothing will run it (published anyway)`
  } catch {
    return null
  }
}
