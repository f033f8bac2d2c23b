import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { errnoText } from '@fst/node/errors'
import { parseAddress, validateInput } from '@fst/protocol'
import { unknownActionWarning } from '../action-check.js'
import { CONFIG_FLAG } from '../options.js'
import { ControlClient } from '../control-client.js'
import { parseDuration } from '../duration.js'
import { EXIT, UsageError } from '../errors.js'
import { socketPath } from '../socket-path.js'
import { MANUAL } from './ban.js'

/** Bad lines reported one by one before the summary line; the rest are counted. */
const MAX_REPORTED = 10

/**
 * Parses a plain address list: one address or CIDR a line; `#` and `;` start comments (Spamhaus DROP writes
 * `1.2.3.0/24 ; SBL123`); blank lines are skipped. Returns canonical addresses, or the bad lines.
 */
export function parseAddressList (text: string, source: string): { addresses: string[], bad: string[] } {
  const addresses = new Set<string>()
  const bad: string[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    const word = line.replace(/[#;].*/, '').trim()
    if (word === '') return
    const parsed = parseAddress(word)
    if (parsed.valid) addresses.add(parsed.value.text)
    else bad.push(`${source}:${i + 1}: ${parsed.error}`)
  })
  return { addresses: [...addresses], bad }
}

/** `fst import FILE`: a blocklist published as bans, all under one name and duration. */
export function addImportCommand (program: Command, emit: (text: string) => void): void {
  program.command('import')
    .description('publish every address of a plain list (one address/CIDR a line, # comments) as bans')
    .argument('<file>', 'the list; - for standard input')
    .option('--name <name>', 'the name (jail) the bans are filed under', 'import')
    .option('--duration <time>', 'seconds, or 90m/12h/7d/2w, or "permanent" (default: the node\'s defaultDurationS)')
    .option('--action <action>', 'the action to publish', 'ban')
    .option(...CONFIG_FLAG)
    .option('--socket <path>', 'the node\'s control socket (default: controlSocket of the config)')
    .addHelpText('after', `
The whole file is checked first: one bad line and nothing is published (exit 2, each bad line named).
Addresses the node refuses (protected: loopback, peers, ignore; too wide a CIDR) are named on stderr and
the rest published (exit 1). Scripts get "<name> ${MANUAL.protocol} ${MANUAL.port} <ip>".`)
    .action(async (file: string, opts: { name: string, duration?: string, action: string, config?: string, socket?: string }) => {
      const duration = opts.duration === undefined ? undefined : parseDuration(opts.duration)
      const template = { op: 'publish' as const, action: opts.action, name: opts.name, protocol: MANUAL.protocol, port: MANUAL.port, ...(duration === undefined ? {} : { duration }) }
      const checked = validateInput({ ...template, ip: '192.0.2.1' })
      if (!checked.valid) throw new UsageError(checked.error)
      const text = await (file === '-' ? readStdin() : readFile(file, 'utf8')).catch((err: unknown) => {
        throw new UsageError(`${file}: cannot read: ${errnoText(err)}`)
      })
      const { addresses, bad } = parseAddressList(text, file)
      if (bad.length > 0) {
        // every bad line (at most MAX_REPORTED) on its own line; the last one, or the count, ends the command
        const shown = bad.length > MAX_REPORTED ? bad.slice(0, MAX_REPORTED) : bad.slice(0, -1)
        for (const line of shown) process.stderr.write(`fst: ${line}\n`)
        throw new UsageError(bad.length > MAX_REPORTED ? `${bad.length} bad lines in ${file}; nothing published` : `${bad.at(-1)}; nothing published`)
      }
      if (addresses.length === 0) throw new UsageError(`${file}: no address in it; nothing published`)
      const client = await ControlClient.connect(await socketPath(opts))
      const warning = await unknownActionWarning(opts.action, opts.config)
      if (warning !== null) process.stderr.write(`fst: ${warning}\n`)
      let published = 0
      let unchanged = 0
      const refused: string[] = []
      try {
        const answers = addresses.map(ip => client.request({ ...template, ip }).then(a => {
          if (!a.ok) refused.push(`${ip}: ${a.error}`)
          else if (a.published === true) published++
          else unchanged++
        }))
        await Promise.all(answers)
      } finally {
        client.close()
      }
      const summary = `${file}: ${published} published, ${unchanged} already banned, ${refused.length} refused`
      if (refused.length > 0) {
        for (const line of refused.slice(0, MAX_REPORTED)) process.stderr.write(`fst: refused ${line}\n`)
        throw new UsageError(summary, EXIT.refused)
      }
      emit(summary)
    })
}

async function readStdin (): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) text += String(chunk)
  return text
}
