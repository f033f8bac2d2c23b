import { MAX_DURATION_S } from '@fst/protocol'
import { UsageError } from './errors.js'

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }

/**
 * `--duration`: whole seconds (`600`), or a number with a unit `s m h d w` (`90m`, `12h`, `7d`), or
 * `0` / `permanent` for a ban that lasts until unbanned. fail2ban's `-1` means permanent too.
 */
export function parseDuration (text: string, flag = '--duration'): number {
  if (text === 'permanent' || text === '-1') return 0
  const m = /^(\d{1,10})([smhdw]?)$/.exec(text)
  const seconds = m === null ? Number.NaN : Number(m[1]) * UNITS[m[2] === '' ? 's' : m[2]!]!
  if (!Number.isSafeInteger(seconds) || seconds > MAX_DURATION_S) {
    throw new UsageError(`${flag}: expected seconds, a number with s/m/h/d/w, or "permanent", up to 10 years (got ${JSON.stringify(text.slice(0, 40))})`)
  }
  return seconds
}

/** `600` → `10m`, `0` → `permanent`: for messages. */
export function formatDuration (seconds: number): string {
  if (seconds === 0) return 'permanent'
  for (const [unit, size] of [['w', 604_800], ['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}
