import { type EventInput, validateInput } from '@fst/protocol'
import { UsageError } from './errors.js'

export const EVENT_USAGE = '<action> <name> <protocol> <port> <ip> [duration-seconds]'

/**
 * Turns hook arguments into a validated event, or a UsageError naming what is wrong. Without the sixth field
 * the event carries no duration and the node gives it `defaultDurationS` (fail2ban's default bantime, 600 s).
 */
export function eventFromArgs (args: readonly string[]): EventInput {
  if (args.length < 5 || args.length > 6) {
    throw new UsageError(`expected 5 or 6 arguments: ${EVENT_USAGE} (got ${args.length})`)
  }
  const [action, name, protocol, port, ip, durationText] = args
  let duration: number | undefined
  if (durationText !== undefined) {
    // fail2ban passes bantime -1 for a permanent ban
    if (durationText === '-1') duration = 0
    else if (!/^\d{1,10}$/.test(durationText)) throw new UsageError(`duration must be whole seconds, got ${JSON.stringify(durationText)}`)
    else duration = Number(durationText)
  }
  const checked = validateInput({ action, name, protocol, port, ip, duration })
  if (!checked.valid) throw new UsageError(checked.error)
  // canonical as checked (a removal's duration is 0); without a duration the node's default applies
  const { duration: canonical, ...event } = checked.value
  return duration === undefined ? event : { ...event, duration: canonical }
}
