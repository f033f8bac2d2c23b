/**
 * The soak's verdicts, pure so a unit test can check them (soak-verdict.test.ts): least-squares slopes of
 * memory over time, and whether every acknowledged ban reached every node that should have it exactly once.
 */

export interface Point { /** Hours since the run started. */ t: number, y: number }

/** Least-squares slope of y over t (y units per hour); null with fewer than two distinct times. */
export function slope (points: readonly Point[]): number | null {
  return pooledSlope([points])
}

/**
 * The slope shared by several series that each have their own level (fixed-effects least squares): each
 * series is centred on its own means, so a restart's drop in RSS is not read as a trend. Series with fewer
 * than two points add nothing; null when no series has two distinct times.
 */
export function pooledSlope (series: ReadonlyArray<readonly Point[]>): number | null {
  let sxy = 0
  let sxx = 0
  for (const s of series) {
    if (s.length < 2) continue
    const mt = s.reduce((a, p) => a + p.t, 0) / s.length
    const my = s.reduce((a, p) => a + p.y, 0) / s.length
    for (const p of s) {
      sxy += (p.t - mt) * (p.y - my)
      sxx += (p.t - mt) ** 2
    }
  }
  return sxx === 0 ? null : sxy / sxx
}

/** One life of a node process: from the moment it answered on its control socket to its kill (or the end). */
export interface Life {
  node: number
  run: number
  fromMs: number
  toMs: number
  /** Ended by SIGKILL (not by the end of the run). */
  killed?: boolean
}

/** A ban whose report was acknowledged: the hook exited 0 (published or queued) or the control socket answered ok. */
export interface AckedBan {
  ip: string
  origin: number
  /** When the origin could first hand it on: its acknowledgement, or for a queued report the origin's next start. */
  availableMs: number
  /** When it stopped being active: its expiry, or the acknowledgement of its unban by the origin. */
  endMs: number
}

/** One line of a recording script: which action ran for which address, in which life of the node. */
export interface ScriptRun { node: number, run: number, action: 'ban' | 'unban', ip: string }

export interface DeliveryVerdict {
  /**
   * (ban, node) pairs that had to run: the node was up at the ban's end, in a life that began at least
   * `graceMs` before that end, and the ban was available from its origin at least `graceMs` before it.
   */
  expected: number
  /** Expected pairs with no ban run in the life that held the ban's end (that life's start re-applies an active ban). */
  lost: number
  /**
   * Pairs not expected (the node was down at the ban's end) whose node was up, with the ban live, for
   * `graceMs` in some life, and that never ran on it: the kill came while the ban waited in the runner's
   * queue, and it ended before the node was back. Not a loss by the definition above; reported apart.
   */
  droppedByKill: number
  /** (ban, node, life) triples with more than one ban run: the same life ran the ban twice. */
  duplicated: number
  /** Ban runs in a later life of a node that had already run it: the start-up re-apply (`reapplyOnStart`). */
  reapplied: number
  /** Runs for addresses no acknowledged ban has (a report whose answer the kill cut off), or on the ban's origin. */
  unexpected: number
  /** Lives that ran a ban, held its end, lasted `graceMs` past it and were not killed, without running its unban. */
  unbanLost: number
  /** The same for lives that a kill ended: the removal waited in the runner's queue when the node died. */
  unbanDroppedByKill: number
  /** (ban, node, life) triples with more than one unban run. */
  unbanDuplicated: number
  /** Up to 20 examples of each failure, for the report. */
  examples: { lost: string[], duplicated: string[], unbanLost: string[] }
}

/**
 * Every acknowledged ban must run once on every node other than its origin that was up while it was live
 * for at least `graceMs` without a break (gossip then catch-up had that long to bring it), and at most once
 * per life of a node: a life is one process, so a second run in the same life is a duplicate, while a run
 * in a later life is the start-up re-apply of an active ban (counted apart). A ban that ended (expired or
 * unbanned) before a node came back owes that node nothing: its tombstone is checked in the ledger instead.
 */
export function deliveryVerdict (bans: readonly AckedBan[], lives: readonly Life[], runs: readonly ScriptRun[], graceMs: number): DeliveryVerdict {
  const byIp = new Map(bans.map(b => [b.ip, b]))
  // ip → node → run → count, per action
  const count = (action: ScriptRun['action']) => {
    const out = new Map<string, Map<number, Map<number, number>>>()
    for (const r of runs) {
      if (r.action !== action) continue
      const nodes = out.get(r.ip) ?? new Map<number, Map<number, number>>()
      const perRun = nodes.get(r.node) ?? new Map<number, number>()
      perRun.set(r.run, (perRun.get(r.run) ?? 0) + 1)
      nodes.set(r.node, perRun)
      out.set(r.ip, nodes)
    }
    return out
  }
  const banRuns = count('ban')
  const unbanRuns = count('unban')
  const v: DeliveryVerdict = { expected: 0, lost: 0, droppedByKill: 0, duplicated: 0, reapplied: 0, unexpected: 0, unbanLost: 0, unbanDroppedByKill: 0, unbanDuplicated: 0, examples: { lost: [], duplicated: [], unbanLost: [] } }
  const note = (list: string[], text: string) => { if (list.length < 20) list.push(text) }
  const livesOf = new Map<number, Life[]>()
  for (const l of lives) livesOf.set(l.node, [...(livesOf.get(l.node) ?? []), l])

  for (const [ip, nodes] of banRuns) {
    const ban = byIp.get(ip)
    for (const [node, perRun] of nodes) {
      const total = [...perRun.values()].reduce((a, b) => a + b, 0)
      if (ban === undefined || node === ban.origin) {
        v.unexpected += total
        continue
      }
      for (const [run, n] of perRun) {
        if (n > 1) {
          v.duplicated++
          note(v.examples.duplicated, `${ip} on node ${node} life ${run}: ${n} runs`)
        }
      }
      v.reapplied += perRun.size - 1
    }
  }
  for (const ip of unbanRuns.keys()) if (!byIp.has(ip)) v.unexpected += [...unbanRuns.get(ip)!.values()].reduce((a, m) => a + [...m.values()].reduce((x, y) => x + y, 0), 0)

  for (const ban of bans) {
    for (const [node, nodeLives] of livesOf) {
      if (node === ban.origin) continue
      const ranIn = banRuns.get(ban.ip)?.get(node)
      const atEnd = nodeLives.find(l => l.fromMs <= ban.endMs - graceMs && l.toMs >= ban.endMs && ban.availableMs <= ban.endMs - graceMs)
      if (atEnd !== undefined) {
        v.expected++
        if (ranIn?.has(atEnd.run) !== true) {
          v.lost++
          note(v.examples.lost, `${ban.ip} (origin ${ban.origin}) did not run on node ${node} in life ${atEnd.run}${ranIn === undefined ? ' nor any other' : ''}`)
        }
      } else if (ranIn === undefined && nodeLives.some(l => Math.min(l.toMs, ban.endMs) - Math.max(l.fromMs, ban.availableMs) >= graceMs)) {
        v.droppedByKill++
      }
      for (const life of nodeLives) {
        if (ranIn?.has(life.run) !== true) continue
        const unbans = unbanRuns.get(ban.ip)?.get(node)?.get(life.run) ?? 0
        if (unbans > 1) v.unbanDuplicated++
        if (unbans === 0 && life.fromMs <= ban.endMs && life.toMs - ban.endMs >= graceMs) {
          if (life.killed === true) v.unbanDroppedByKill++
          else {
            v.unbanLost++
            note(v.examples.unbanLost, `${ban.ip} (origin ${ban.origin}) never unbanned on node ${node} life ${life.run}`)
          }
        }
      }
    }
  }
  return v
}

/** The state of one ledger key as `list --all` gives it. */
export interface LedgerState { action: string }

export interface LedgerVerdict {
  /** (ban, node) pairs of bans still active at the check whose key is not in that node's ledger. */
  missing: number
  /** Pairs of ended bans whose key is gone: its tombstone evicted (`limits.maxRemovalsPerOrigin`) or pruned. */
  evicted: number
  /** Pairs whose state is wrong by more than `marginMs` from the check: still active after its end, or removed before it. */
  wrong: number
  examples: string[]
}

/**
 * At the end every node's ledger holds every acknowledged ban that has not ended, active, and no ended one
 * as active: its tombstone, or nothing once the tombstone was evicted or pruned (counted apart).
 */
export function ledgerVerdict (bans: readonly AckedBan[], ledgers: ReadonlyArray<ReadonlyMap<string, LedgerState>>, checkedMs: number, marginMs: number): LedgerVerdict {
  const v: LedgerVerdict = { missing: 0, evicted: 0, wrong: 0, examples: [] }
  for (const ban of bans) {
    ledgers.forEach((ledger, node) => {
      const entry = ledger.get(ban.ip)
      if (entry === undefined && ban.endMs <= checkedMs - marginMs) {
        v.evicted++
        return
      }
      if (entry === undefined) {
        v.missing++
        if (v.examples.length < 20) v.examples.push(`${ban.ip} missing on node ${node}`)
        return
      }
      if (Math.abs(ban.endMs - checkedMs) < marginMs) return
      const shouldBeActive = ban.endMs > checkedMs
      if ((entry.action === 'ban') !== shouldBeActive) {
        v.wrong++
        if (v.examples.length < 20) v.examples.push(`${ban.ip} is ${entry.action} on node ${node}, expected ${shouldBeActive ? 'ban' : 'a removal'}`)
      }
    })
  }
  return v
}
