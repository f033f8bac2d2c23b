import type { Logger } from 'pino'

/**
 * Rate-limited warnings: at most `perInterval` lines per reason per interval, then one summary line with how
 * many were suppressed. A peer flooding bad messages fills counters, not the disk.
 */
export class LogThrottle {
  private readonly windows = new Map<string, { start: number, logged: number, suppressed: number }>()

  constructor (
    private readonly log: Logger,
    private readonly perInterval = 10,
    private readonly intervalMs = 10_000,
    private readonly now = Date.now
  ) {}

  /** Logs at warn unless this reason already used its share of the current interval. */
  warn (reason: string, fields: Record<string, unknown>, message: string): void {
    this.write('warn', reason, fields, message)
  }

  /** The same at info: everyday news (a published report) that a burst must not turn into a flood. */
  info (reason: string, fields: Record<string, unknown>, message: string): void {
    this.write('info', reason, fields, message)
  }

  private write (level: 'warn' | 'info', reason: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now()
    let w = this.windows.get(reason)
    if (w === undefined || now - w.start >= this.intervalMs) {
      if (w !== undefined && w.suppressed > 0) {
        this.log[level]({ reason, suppressed: w.suppressed, seconds: Math.round((now - w.start) / 1000) }, level === 'warn' ? 'similar warnings suppressed' : 'similar lines suppressed')
      }
      w = { start: now, logged: 0, suppressed: 0 }
      this.windows.set(reason, w)
    }
    if (w.logged < this.perInterval) {
      w.logged++
      this.log[level]({ reason, ...fields }, message)
    } else {
      w.suppressed++
    }
  }
}
