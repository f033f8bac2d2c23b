import { ask } from './control-client.js'
import { EVENT_USAGE, eventFromArgs } from './event-args.js'
import { NodeUnavailableError, UsageError } from './errors.js'
import { socketPath } from './socket-path.js'
import { versionText } from './version.js'

const USAGE = `usage: fst-action [--socket PATH | --config PATH] ${EVENT_USAGE}
Hands one event to the local FST node and exits 0 once the node has recorded it. When no node
answers (not running, stopping, or no answer within 10 s) the event is queued in the spool
(spool.dir, or $FST_SPOOL), "queued: ..." is printed and the exit code is 0: the node publishes it,
with its report time, when it starts. protocol and port are accepted in any case and passed on
lowercased; without a duration the node applies its defaultDurationS (600 s).
Exit 1: refused by the node, or the spool is full; 2: a bad field; 3: no node and no spool.
Node: --socket, else $FST_SOCKET, else the controlSocket of --config, else of $FST_CONFIG,
else of /etc/fst/config.yml if it exists, else of the defaults relative to the current directory.
fst-action --version prints the version.`

/**
 * The hook fail2ban (or anything) calls: `fst-action ban sshd tcp 22 203.0.113.7`. Loads no libp2p.
 * Options are read by hand and only before the first field (or up to `--`): every later word, even one
 * starting with a dash, is a field to validate, so a field can never pick the config file.
 */
export async function hook (argv: readonly string[]): Promise<string> {
  const opts: { config?: string, socket?: string } = {}
  const fields: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const option = fields.length === 0 ? /^--(config|socket)(?:=(.*))?$/.exec(arg) : null
    if (fields.length > 0) {
      fields.push(arg)
    } else if (arg === '--') {
      fields.push(...argv.slice(i + 1))
      break
    } else if (option !== null) {
      const value = option[2] ?? argv[++i]
      if (value === undefined || value === '') throw new UsageError(`--${option[1]} needs a path`)
      opts[option[1] as 'config' | 'socket'] = value
    } else if (arg === '--help' || arg === '-h') {
      return USAGE
    } else if (arg === '--version' || arg === '-V') {
      return versionText('fst-action')
    } else {
      fields.push(arg)
    }
  }
  const event = eventFromArgs(fields)
  // the report's time is now, not when a spooled copy reaches the node
  const time = Date.now()
  const request = { op: 'publish' as const, ...event }
  let answer: Awaited<ReturnType<typeof ask>>
  try {
    // the node does not take the report up past the deadline: by then this hook has spooled it
    answer = await ask(await socketPath(opts), { ...request, deadline: time + HOOK_TIMEOUT_MS - DEADLINE_MARGIN_MS }, HOOK_TIMEOUT_MS)
    // the node checks the deadline when it takes the request up, which can be before this hook's own
    // timeout: it did not take the report, so the report is this hook's to queue
    if (!answer.ok && answer.code === 'deadline_passed') throw new NodeUnavailableError('the node answered after the deadline', 'timeout')
  } catch (err) {
    if (!(err instanceof NodeUnavailableError)) throw err
    const { queueReport } = await import('./spool.js')
    return queueReport(opts, request, time, err)
  }
  if (!answer.ok) throw new UsageError(`refused by the node: ${answer.error}`, 1)
  return ''
}

/** A node that has not answered by then is taken as unavailable and the report is spooled (fail2ban kills an action after 60 s). */
const HOOK_TIMEOUT_MS = 10_000
/** The node's deadline comes this much before the hook gives up, so the two can never both take the report. */
const DEADLINE_MARGIN_MS = 1000
