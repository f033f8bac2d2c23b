import { parseAddress } from './address.js'
import { fail, ok, RejectReason, type Result } from './errors.js'

/**
 * One firewall event as it travels the mesh. Nothing in it is specific to a server:
 * the origin is the signer of the message that carries it.
 */
export interface FstEvent {
  /** What to do: `ban`, `unban` or a custom action such as `nullroute`. Names a folder `actions/<action>.d`. */
  action: string
  /** The jail or rule that reported it, e.g. `sshd`. */
  name: string
  /** Protocol(s) as fail2ban passes them, e.g. `tcp` or `tcp,udp`; lowercase (the hook accepts any case). */
  protocol: string
  /** Port(s) as fail2ban passes them, e.g. `22`, `http,https`, `1000:2000`; lowercase (the hook accepts any case). */
  port: string
  /** Canonical IPv4/IPv6 address or CIDR. */
  ip: string
  /** Issue time at the origin, milliseconds since the Unix epoch. */
  time: number
  /** Ban length in seconds; 0 means until unbanned. */
  duration: number
}

/** What a hook call carries: an event before the node stamps its issue time. */
export type EventInput = Omit<FstEvent, 'time' | 'duration'> & { duration?: number }

/**
 * Action and name: a letter or digit, then letters, digits, `_`, `.`, `-`; at most 64 characters.
 * This rules out path separators, leading dots (`..`), whitespace and every shell metacharacter.
 */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/**
 * Protocol: up to 8 comma-separated ASCII words such as `tcp`, `udp`, `all`, `icmp`, in any case (the seed's
 * own example passes `IP`). Normalised to lowercase, like an address to its canonical form: scripts and the
 * wire see `ip`, and nodes that only know lowercase accept what a newer node sends.
 */
export const PROTOCOL_PATTERN = /^[A-Za-z0-9]{1,16}(,[A-Za-z0-9]{1,16}){0,7}$/
/** One port item: a number, a range `a:b` or `a-b`, or a service name such as `ssh`, `imap3` or `null` (any case). */
const PORT_ITEM = /^(?:(\d{1,5})(?:[:-](\d{1,5}))?|[A-Za-z][A-Za-z0-9-]{0,31})$/
const MAX_PORT_ITEMS = 32
/** Ten years: longer bans should be permanent (duration 0). */
export const MAX_DURATION_S = 10 * 365 * 24 * 3600

/** Checks a port field and returns it lowercased (service names are matched without case). */
export function validatePort (port: unknown): Result<string> {
  if (typeof port !== 'string' || port.length === 0 || port.length > 256) {
    return fail(RejectReason.badPort, 'port must be 1-256 characters')
  }
  const items = port.split(',')
  if (items.length > MAX_PORT_ITEMS) return fail(RejectReason.badPort, `at most ${MAX_PORT_ITEMS} ports`)
  for (const item of items) {
    const m = PORT_ITEM.exec(item)
    if (m === null) return fail(RejectReason.badPort, `bad port ${JSON.stringify(item)}: use numbers, a:b ranges or service names`)
    const low = m[1] === undefined ? 0 : Number(m[1])
    const high = m[2] === undefined ? low : Number(m[2])
    if (low > 65535 || high > 65535 || high < low) return fail(RejectReason.badPort, `bad port range ${JSON.stringify(item)}`)
  }
  return ok(port.toLowerCase())
}

/**
 * The one form of a valid port field: lowercase, numbers without leading zeros (`022` → `22`, `0080:0090` →
 * `80:90`), so that no script reads `022` as octal 18. For a field `validatePort` accepted.
 */
export function canonicalPort (port: string): string {
  return port.toLowerCase().replace(/\d+/g, n => String(Number(n)))
}

/** A value for an error message: untrusted input, so no String() (an object could throw) and at most 80 chars. */
function shown (value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value
}

function checkName (value: unknown, reason: RejectReason, field: string): Result<string> {
  if (typeof value === 'string' && NAME_PATTERN.test(value)) return ok(value)
  return fail(reason, `${field} must match ${NAME_PATTERN.source}, got ${shown(value)}`)
}

/** Validates the five hook fields (and an optional duration) and normalises the address. */
export function validateInput (input: Record<string, unknown>): Result<EventInput & { duration: number }> {
  const action = checkName(input.action, RejectReason.badAction, 'action')
  if (!action.valid) return action
  const name = checkName(input.name, RejectReason.badName, 'name')
  if (!name.valid) return name
  if (typeof input.protocol !== 'string' || !PROTOCOL_PATTERN.test(input.protocol)) {
    return fail(RejectReason.badProtocol, `protocol must match ${PROTOCOL_PATTERN.source}, got ${shown(input.protocol)}`)
  }
  const port = validatePort(input.port)
  if (!port.valid) return port
  const ip = parseAddress(input.ip as string)
  if (!ip.valid) return ip
  const duration = input.duration ?? 0
  if (typeof duration !== 'number' || !Number.isSafeInteger(duration) || duration < 0 || duration > MAX_DURATION_S) {
    return fail(RejectReason.badDuration, `duration must be whole seconds from 0 to ${MAX_DURATION_S}`)
  }
  // a removal has no length: whatever duration the report gave, it carries 0 (docs/protocol.md §2)
  const removes = actionFamily(action.value).removes
  return ok({ action: action.value, name: name.value, protocol: input.protocol.toLowerCase(), port: canonicalPort(port.value), ip: ip.value.text, duration: removes ? 0 : duration })
}

/** Validates a full event (as received from the mesh or a ledger). */
export function validateEvent (input: Record<string, unknown>): Result<FstEvent> {
  const base = validateInput(input)
  if (!base.valid) return base
  if (base.value.ip !== input.ip) return fail(RejectReason.badAddress, 'address is not in canonical form')
  // nodes send protocol and port lowercased; another form was not made by validateInput
  if (base.value.protocol !== input.protocol) return fail(RejectReason.badProtocol, 'protocol is not in canonical (lowercase) form')
  // lowercase as every release sends it; leading zeros and a removal's duration are what 0.1.0 nodes may
  // send (their hook passed both on), so they are accepted as signed and made canonical for scripts (scriptView)
  const port = input.port as string
  if (port !== port.toLowerCase()) return fail(RejectReason.badPort, 'port is not in canonical (lowercase) form')
  const time = input.time
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time <= 0) {
    return fail(RejectReason.badTime, 'time must be a positive integer (ms since epoch)')
  }
  return ok({ ...base.value, port, duration: (input.duration ?? 0) as number, time })
}

/**
 * What scripts are given for an event: its canonical form (a removal's duration 0, the port without leading
 * zeros). The ledger keeps the event as its origin signed it, so digests and proofs stay those of the origin.
 */
export function scriptView<E extends FstEvent> (event: E): E {
  const removes = actionFamily(event.action).removes
  const port = canonicalPort(event.port)
  if (port === event.port && (!removes || event.duration === 0)) return event
  return { ...event, port, duration: removes ? 0 : event.duration }
}

/**
 * The ledger key family of an action: `unX` undoes `X` (`unban` undoes `ban`).
 * Returns the family and whether the action removes.
 */
export function actionFamily (action: string): { family: string, removes: boolean } {
  if (action.length > 2 && action.startsWith('un')) return { family: action.slice(2), removes: true }
  return { family: action, removes: false }
}
