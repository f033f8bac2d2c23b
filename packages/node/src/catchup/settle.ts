/** When the second pull after a connect runs (catchup/service.ts). */
export interface SettleTiming {
  /** The pull runs this long after the connect when the ledger is quiet. */
  delayMs: number
  /** ...and at the latest this long after it, however busy the ledger is. */
  maxMs: number
  /** A ledger taking more changes per second than this is in a wave. */
  busyPerS: number
}

/**
 * 10 s after a connect, unless a wave is going through the ledger: then once it has passed, at most 60 s after
 * the connect. A pull between two ledgers that differ by a wave in flight fetches most of every bucket, all of
 * which gossip brings anyway: at 10,000 bans/s it cost a quarter of the mesh's throughput. At a fail2ban
 * fleet's usual rates (the soak's 50 per second) the pull is never deferred.
 */
export const SETTLE_TIMING: SettleTiming = { delayMs: 10_000, maxMs: 60_000, busyPerS: 1000 }

/** The span the change rate is sampled over before each decision. */
const SAMPLE_MS = 1000

/**
 * Calls `run` once, `delayMs` after now, or later while `changes` (a counter of ledger changes) grows faster than
 * `busyPerS`, but never later than `maxMs` after now. Returns a cancel function.
 */
export function settleWhenQuiet (timing: SettleTiming, changes: () => number, run: () => void): () => void {
  // counted in samples rather than read from a clock: a stalled event loop cannot skip the quiet check
  let samplesLeft = Math.max(1, Math.floor((timing.maxMs - timing.delayMs) / SAMPLE_MS) + 1)
  let timer: NodeJS.Timeout
  const schedule = (ms: number, fn: () => void) => {
    timer = setTimeout(fn, Math.max(0, ms))
    timer.unref()
  }
  const sample = () => {
    const before = changes()
    samplesLeft--
    schedule(SAMPLE_MS, () => {
      const perS = (changes() - before) * 1000 / SAMPLE_MS
      if (perS <= timing.busyPerS || samplesLeft === 0) run()
      else sample()
    })
  }
  schedule(timing.delayMs - SAMPLE_MS, sample)
  return () => clearTimeout(timer)
}
