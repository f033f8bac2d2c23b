import type { Command } from 'commander'
import { actionFamily, type LedgerEntry, parseAddress, validateInput } from '@fst/protocol'
import { unknownActionWarning } from '../action-check.js'
import { CONFIG_FLAG } from '../options.js'
import { ControlClient } from '../control-client.js'
import { formatDuration, parseDuration } from '../duration.js'
import { EXIT, NodeUnavailableError, UsageError } from '../errors.js'
import { socketPath } from '../socket-path.js'
import { connectOrQueue } from '../spool-fallback.js'

/** What `fst ban` puts in the fields fail2ban would fill. */
export const MANUAL = { name: 'manual', protocol: 'all', port: '0:65535' } as const

/** `fst ban <ip>` and `fst unban <ip>`: a person's ban, and lifting one, on every server. */
export function addBanCommands (program: Command, emit: (text: string) => void): void {
  program.command('ban')
    .description('ban an address or CIDR on every server (published like a fail2ban report)')
    .argument('<ip>', 'IPv4/IPv6 address or CIDR')
    .option('--name <name>', 'the name (jail) to file it under', MANUAL.name)
    .option('--duration <time>', 'seconds, or 90m/12h/7d/2w, or "permanent" (default: the node\'s defaultDurationS, 600 s)')
    .option('--action <action>', 'the action to publish', 'ban')
    .option('--protocol <protocol>', 'protocol field passed to the scripts', MANUAL.protocol)
    .option('--port <port>', 'port field passed to the scripts', MANUAL.port)
    .option(...CONFIG_FLAG)
    .option('--socket <path>', 'the node\'s control socket (default: controlSocket of the config)')
    .addHelpText('after', `
The receivers run actions/<action>.d/ with argv "<name> <protocol> <port> <ip>", here
"${MANUAL.name} ${MANUAL.protocol} ${MANUAL.port} <ip>" unless given. Refused (exit 1): protected addresses
(loopback, peers, ignore) and CIDRs wider than minPrefixV4/minPrefixV6.`)
    .action(async (ip: string, opts: { name: string, duration?: string, action: string, protocol: string, port: string, config?: string, socket?: string }) => {
      const duration = opts.duration === undefined ? undefined : parseDuration(opts.duration)
      if (actionFamily(opts.action).removes) throw new UsageError(`--action ${opts.action} removes; use fst unban`)
      const request = { op: 'publish' as const, action: opts.action, name: opts.name, protocol: opts.protocol, port: opts.port, ip: canonical(ip), manual: true, ...(duration === undefined ? {} : { duration }) }
      const checked = validateInput(request)
      if (!checked.valid) throw new UsageError(checked.error)
      const client = await connectOrQueue(await socketPath(opts), opts, request, emit)
      if (client === null) return
      const warning = await unknownActionWarning(opts.action, opts.config)
      if (warning !== null) process.stderr.write(`fst: ${warning}\n`)
      try {
        const answer = await client.request(request)
        if (!answer.ok) throw new UsageError(`refused by the node: ${answer.error}`, EXIT.refused)
        const shown = typeof answer.duration === 'number' ? formatDuration(answer.duration) : 'as before'
        emit(answer.published === true ? `${opts.action} ${request.ip} (${opts.name}, ${shown}) published` : `${request.ip} is already under ${opts.action} (${opts.name}): nothing changed`)
      } finally {
        client.close()
      }
    })

  program.command('unban')
    .description('lift the bans of an address on every server: every name holding it, or only --name')
    .argument('<ip>', 'IPv4/IPv6 address or CIDR, exactly as banned')
    .option('--name <name>', 'only the ban filed under this name (jail)')
    .option('--action <action>', 'the action whose entries to lift (its "un" form is published)', 'ban')
    .option(...CONFIG_FLAG)
    .option('--socket <path>', 'the node\'s control socket (default: controlSocket of the config)')
    .addHelpText('after', `
Exit 1 with "nothing to unban" when no active entry matches (a wrong name, an address never banned).
With the node down, an unban with --name is queued in the spool (the node publishes it when it starts);
without --name it is not (exit 3): which names hold the address only the running node knows.`)
    .action(async (ip: string, opts: { name?: string, action: string, config?: string, socket?: string }) => {
      const address = canonical(ip)
      const path = await socketPath(opts)
      let client: ControlClient
      if (opts.name === undefined) {
        client = await ControlClient.connect(path).catch((err: unknown) => {
          throw err instanceof NodeUnavailableError ? new NodeUnavailableError(`${err.message} (with --name the unban would be queued)`, err.reason) : err
        })
      } else {
        const request = { op: 'publish' as const, action: `un${opts.action}`, name: opts.name, protocol: MANUAL.protocol, port: MANUAL.port, ip: address, manual: true }
        const connected = await connectOrQueue(path, opts, request, emit)
        if (connected === null) return
        client = connected
      }
      try {
        const found = await client.request({ op: 'list', ip: address, action: opts.action, ...(opts.name === undefined ? {} : { name: opts.name }) })
        if (!found.ok) throw new UsageError(found.error, EXIT.refused)
        const entries = found.entries as LedgerEntry[]
        if (entries.length === 0) {
          throw new UsageError(`nothing to unban: no active ${opts.action} of ${address}${opts.name === undefined ? '' : ` under the name ${opts.name}`} (see fst show ${address})`, EXIT.refused)
        }
        const lifted: string[] = []
        for (const e of entries) {
          const answer = await client.request({ op: 'publish', action: `un${opts.action}`, name: e.name, protocol: e.protocol, port: e.port, ip: e.ip, manual: true })
          if (!answer.ok) throw new UsageError(`refused by the node: ${answer.error}`, EXIT.refused)
          lifted.push(e.name)
        }
        emit(`un${opts.action} ${address} published (${lifted.join(', ')})`)
      } finally {
        client.close()
      }
    })
}

function canonical (ip: string): string {
  const parsed = parseAddress(ip)
  if (!parsed.valid) throw new UsageError(parsed.error)
  return parsed.value.text
}
