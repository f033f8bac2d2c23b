import { join } from 'node:path'
import { NAME_PATTERN, type FstEvent, ledgerKey, scriptView } from '@fst/protocol'
import type { Logger } from 'pino'
import { FairQueue } from './fair-queue.js'
import { createLauncher, type Launcher } from './launch/index.js'
import { listScripts, type Script } from './scripts.js'

/** Events of one action from one origin, run together. */
export interface Job {
  action: string
  events: FstEvent[]
  origin: string
}

/** An event in the runner's queue: its ledger key, and its place in the order events arrived. */
interface QueuedEvent { event: FstEvent, key: string, seq: number }
type Queued = Omit<Job, 'events'> & { events: QueuedEvent[] }

/** What a script run ended as; a bounded label for metrics. */
export type Outcome = 'ok' | 'failed' | 'timeout' | 'error'

export interface RunnerInit {
  actionsDir: string
  timeoutMs: number
  /** Extra variables every script gets (config `scriptEnv`), e.g. the fail2ban socket. */
  extraEnv?: Readonly<Record<string, string>>
  log: Logger
  /** Called once a job's scripts have all run (whatever their outcome); not for an action without scripts. */
  onRan?: (job: Job) => void
  /** Called after every script run (metrics). */
  onRun?: (action: string, outcome: Outcome, seconds: number) => void
  platform?: NodeJS.Platform
  /** Starts the scripts. @default createLauncher(log): a perl fork server where perl exists, else spawn */
  launcher?: Launcher
}

/** Events a batch script may apply per `timeoutMs`. */
const EVENTS_PER_TIMEOUT = 100
/** Most events merged into one job for an action whose scripts are all batch scripts. */
const MAX_MERGED_EVENTS = 20_000
/**
 * Most events per turn for an action that mixes batch and per-event scripts; an action with per-event scripts
 * only takes one event per turn (merging saves such scripts nothing). The rest waits behind every other origin's
 * next job, so a flood from one peer delays another peer's ban by at most one turn.
 */
export const FAIR_TURN_EVENTS = 10
/** Most queued events one merge looks through for jobs of its action (bounds the work of a turn). */
const MERGE_WALK_EVENTS = 50_000
/** Grace between SIGTERM and SIGKILL for a script past its timeout. */
const KILL_GRACE_MS = 1000
/** How long a listing of an action folder is reused: changes to actions/ take effect within this. */
const SCRIPT_LIST_TTL_MS = 1000

/**
 * Runs `<actionsDir>/<action>.d/*` for received events, one script at a time, in lexical order.
 * Scripts get argv and a fixed minimal environment, never a shell. A batch script runs once per job with
 * the events on stdin; any other script runs once per event. Jobs wait in one lane per origin, served
 * round-robin in turns of at most FAIR_TURN_EVENTS events.
 */
export class ActionRunner {
  private readonly queue = new FairQueue<Queued>()
  /** Per ledger key, the sequence numbers of its queued events, oldest first: a key's events run in that order. */
  private readonly waiting = new Map<string, number[]>()
  private seq = 0
  private readonly listings = new Map<string, { scripts: Script[], at: number }>()
  private running: Promise<void> | null = null
  private stopped = false
  private aborted = false
  private current: { kill: () => void } | null = null
  private readonly launcher: Launcher
  /** Events waiting to run, for the queue-depth gauge. */
  pending = 0

  constructor (private readonly init: RunnerInit) {
    this.launcher = init.launcher ?? createLauncher(init.log, 'auto', init.platform)
  }

  enqueue (job: Job): void {
    if (this.stopped || job.events.length === 0) return
    const seq = ++this.seq
    const keys = job.events.map(ledgerKey)
    for (const key of keys) {
      const list = this.waiting.get(key)
      if (list === undefined) this.waiting.set(key, [seq])
      else list.push(seq)
    }
    this.queue.push(job.origin, { ...job, events: job.events.map((event, i) => ({ event, key: keys[i]!, seq })) })
    this.pending += job.events.length
    this.running ??= this.drain().finally(() => { this.running = null })
  }

  /** Resolves when the queue is empty. */
  async idle (): Promise<void> {
    while (this.running !== null) await this.running
  }

  /** Stops taking jobs; waits up to `drainMs` for the queue, then kills the running script. */
  async stop (drainMs: number): Promise<void> {
    this.stopped = true
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>(resolve => { timer = setTimeout(resolve, drainMs) })
    await Promise.race([this.idle(), timeout])
    clearTimeout(timer)
    this.queue.clear()
    this.waiting.clear()
    // the job cut short is not recorded as run: the next start runs it again (AppliedBans)
    this.aborted = true
    this.current?.kill()
    await this.idle()
    this.launcher.close()
  }

  /** Whether an event must wait: an earlier event for its key is still queued (in another origin's lane). */
  private blocked (e: QueuedEvent): boolean {
    return this.waiting.get(e.key)![0]! < e.seq
  }

  /**
   * Takes the next origin's next job (round-robin over origins), merged with the jobs queued behind it for the
   * same action and origin: under an attack wave a batch script then runs once for thousands of events instead
   * of once per message. Jobs of other actions in between (bans and unbans mixed) are passed over. An address's
   * events run in the order they came, across origins too (an admin's unban of another origin's ban waits for
   * that ban): an event with an earlier one for its address still queued waits, and so does every later event
   * for that address in the lane. A turn is capped when per-event scripts run (see FAIR_TURN_EVENTS) and the
   * rest goes back to the head of its origin's lane.
   */
  private next (): Job | undefined {
    // the oldest queued event is never blocked, so one rotation finds a runnable one; should it not, the last
    // try runs its job as it is rather than leave the queue stalled
    for (let lanes = this.queue.keys; lanes >= 0; lanes--) {
      const job = this.queue.shift()
      if (job === undefined) return undefined
      const limit = this.turnLimit(job.action)
      const passed = new Set<string>()
      const wait = (e: QueuedEvent) => lanes > 0 && (passed.has(e.key) || this.blocked(e))
      const events: QueuedEvent[] = []
      const held: QueuedEvent[] = []
      for (const e of job.events) {
        if (wait(e)) {
          held.push(e)
          passed.add(e.key)
        } else {
          events.push(e)
        }
      }
      let walked = 0
      this.queue.takeFrom(job.origin, following => {
        if (events.length >= limit || walked >= MERGE_WALK_EVENTS) return 'stop'
        walked += following.events.length
        if (following.action === job.action && !following.events.some(wait)) {
          events.push(...following.events)
          return 'take'
        }
        for (const e of following.events) passed.add(e.key)
        return 'keep'
      })
      if (events.length > limit) this.queue.unshift(job.origin, { ...job, events: events.splice(limit) })
      if (held.length > 0) this.queue.unshift(job.origin, { ...job, events: held })
      if (events.length === 0) continue
      for (const e of events) this.taken(e)
      return { action: job.action, origin: job.origin, events: events.map(e => e.event) }
    }
    return undefined
  }

  /** An event leaves the queue to run: the next event for its key may go. */
  private taken (e: QueuedEvent): void {
    const list = this.waiting.get(e.key)!
    const at = list.indexOf(e.seq)
    list.splice(at === -1 ? 0 : at, 1)
    if (list.length === 0) this.waiting.delete(e.key)
  }

  private turnLimit (action: string): number {
    if (!NAME_PATTERN.test(action)) return FAIR_TURN_EVENTS
    const scripts = this.scriptsOf(action)
    const batch = scripts.filter(s => s.batch).length
    return batch === 0 ? 1 : batch === scripts.length ? MAX_MERGED_EVENTS : FAIR_TURN_EVENTS
  }

  /** The scripts of an action, listed at most once per SCRIPT_LIST_TTL_MS (a listing stats every file). */
  private scriptsOf (action: string): Script[] {
    const now = performance.now()
    const cached = this.listings.get(action)
    if (cached !== undefined && now - cached.at < SCRIPT_LIST_TTL_MS) return cached.scripts
    const scripts = listScripts(join(this.init.actionsDir, `${action}.d`), this.init.platform)
    // bounded: actions are validated names, but a hostile peer could send many; keep only recent listings
    if (this.listings.size >= 256) this.listings.clear()
    this.listings.set(action, { scripts, at: now })
    return scripts
  }

  private async drain (): Promise<void> {
    for (let job = this.next(); job !== undefined; job = this.next()) {
      try {
        if (await this.runJob(job)) this.init.onRan?.(job)
      } catch (err) {
        this.init.log.error({ err, action: job.action }, 'runner failed on a job')
      }
      this.pending -= job.events.length
    }
  }

  /** Runs a job's scripts; false when its action has none. */
  private async runJob (job: Job): Promise<boolean> {
    // the action was validated on receipt; re-check because it becomes a path
    if (!NAME_PATTERN.test(job.action)) return false
    const scripts = this.scriptsOf(job.action)
    if (scripts.length === 0) {
      this.init.log.debug({ action: job.action }, 'no scripts for action; ignored')
      return false
    }
    for (const script of scripts) {
      if (script.batch) {
        await this.runScript(script, job, job.events)
      } else {
        for (const event of job.events) {
          if (this.aborted) break
          await this.runScript(script, job, [event])
        }
      }
      if (this.aborted) return false
    }
    return true
  }

  private async runScript (script: Script, job: Job, received: FstEvent[]): Promise<void> {
    // canonical forms only: a 0.1.0 origin may have signed a removal with a duration or a port like `022`
    const events = received.map(scriptView)
    const first = events[0]!
    const args = script.batch ? [] : [first.name, first.protocol, first.port, first.ip]
    const env = scriptEnv(job, events, script.batch, this.init.extraEnv)
    const started = performance.now()
    const outcome = await this.spawnScript(script, args, env, script.batch ? batchInput(events) : null, timeoutFor(this.init.timeoutMs, events.length))
    const seconds = (performance.now() - started) / 1000
    this.init.onRun?.(job.action, outcome.outcome, seconds)
    const fields = { action: job.action, script: script.name, events: events.length, ip: script.batch ? undefined : first.ip, ms: Math.round(seconds * 1000), code: outcome.code, stdout: outcome.stdout || undefined, stderr: outcome.stderr || undefined }
    if (outcome.outcome === 'ok') this.init.log.info(fields, 'script ran')
    else this.init.log.warn({ ...fields, outcome: outcome.outcome }, 'script did not succeed')
  }

  private async spawnScript (script: Script, args: string[], env: NodeJS.ProcessEnv, input: string | null, timeoutMs: number) {
    const [command, ...lead] = script.interpreter.length > 0 ? [...script.interpreter, script.path] : [script.path]
    const launch = this.launcher.launch({ command: command!, args: [...lead, ...args], cwd: join(script.path, '..'), env, input })
    let timedOut = false
    let killTimer: NodeJS.Timeout | undefined
    const kill = () => {
      launch.signal('SIGTERM')
      killTimer = setTimeout(() => launch.signal('SIGKILL'), KILL_GRACE_MS)
    }
    const timer = setTimeout(() => { timedOut = true; kill() }, timeoutMs)
    this.current = { kill }
    const exit = await launch.exited
    clearTimeout(timer)
    clearTimeout(killTimer)
    this.current = null
    const outcome: Outcome = exit.error !== undefined ? 'error' : timedOut ? 'timeout' : exit.code === 0 ? 'ok' : 'failed'
    const stderr = exit.error === undefined ? exit.stderr : [exit.stderr, exit.error].filter(Boolean).join('\n')
    return { outcome, code: exit.code, stdout: exit.stdout, stderr }
  }
}

/**
 * A script's time limit: `timeoutMs` for every started 100 events it is given. A batch script that applies
 * thousands of addresses (fail2ban runs its own action per address) gets time in proportion, while a hung
 * single-event script is still killed after `timeoutMs`.
 */
export function timeoutFor (timeoutMs: number, events: number): number {
  return timeoutMs * Math.max(1, Math.ceil(events / EVENTS_PER_TIMEOUT))
}

/** The whole environment a script sees: nothing inherited from the daemon, plus the configured `scriptEnv`. */
export function scriptEnv (job: Job, events: FstEvent[], batch: boolean, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const first = events[0]!
  const env: NodeJS.ProcessEnv = {
    ...extra,
    PATH: process.platform === 'win32' ? (process.env.PATH ?? '') : '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C',
    LC_ALL: 'C',
    FST_ACTION: job.action,
    FST_ORIGIN: job.origin,
    FST_COUNT: String(events.length)
  }
  if (process.platform === 'win32' && process.env.SystemRoot !== undefined) env.SystemRoot = process.env.SystemRoot
  if (!batch) {
    Object.assign(env, {
      FST_NAME: first.name,
      FST_PROTOCOL: first.protocol,
      FST_PORT: first.port,
      FST_IP: first.ip,
      FST_TIME: String(first.time),
      FST_DURATION: String(first.duration)
    })
  }
  return env
}

/** Stdin of a batch script: `name protocol port ip duration` per line. */
export function batchInput (events: FstEvent[]): string {
  return events.map(e => `${e.name} ${e.protocol} ${e.port} ${e.ip} ${e.duration}\n`).join('')
}
