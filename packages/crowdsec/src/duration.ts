/**
 * Durations as CrowdSec writes them: Go's `time.Duration.String()` (`3h59m30.5s`, `59m30s`, `0s`), which every
 * bouncer parses with `time.ParseDuration`.
 */

/** Milliseconds → Go duration text, whole milliseconds (`-` for a past time, as Go would print). */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError('duration must be finite')
  const sign = ms < 0 ? '-' : ''
  let rest = Math.round(Math.abs(ms))
  if (rest === 0) return '0s'
  if (rest < 1000) return `${sign}${rest}ms`
  const hours = Math.floor(rest / 3_600_000)
  rest -= hours * 3_600_000
  const minutes = Math.floor(rest / 60_000)
  rest -= minutes * 60_000
  const seconds = (rest / 1000).toFixed(3).replace(/\.?0+$/, '')
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`
  return `${sign}${seconds}s`
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
// µ and μ escaped: one raw non-ASCII character in a regex makes V8 hold the whole bundle chunk (0.8 MB of
// source) as a two-byte string, twice its size, in every node process (docs/benchmarks.md, Footprint)
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/y

/**
 * Go duration text → milliseconds, or null when it is not one. Untrusted input (a LAPI answer): at most 64
 * characters, so the loop is bounded.
 */
export function parseDuration (text: unknown): number | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return null
  let i = 0
  let sign = 1
  if (text[0] === '-' || text[0] === '+') {
    sign = text[0] === '-' ? -1 : 1
    i = 1
  }
  if (text.slice(i) === '0') return 0
  let total = 0
  let parts = 0
  while (i < text.length) {
    PART.lastIndex = i
    const m = PART.exec(text)
    if (m === null) return null
    total += Number(m[1]) * UNIT_MS[m[2]!]!
    i = PART.lastIndex
    parts++
  }
  if (parts === 0 || !Number.isFinite(total)) return null
  return sign * total
}
