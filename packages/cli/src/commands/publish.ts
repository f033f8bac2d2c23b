import { open } from 'node:fs/promises'
import { errnoText } from '@fst/node/errors'
import { actionFamily, type LedgerEntry } from '@fst/protocol'
import { unknownActionWarning } from '../action-check.js'
import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import { CONFIG_FLAG } from '../options.js'
import { ControlClient } from '../control-client.js'
import { EVENT_USAGE, eventFromArgs } from '../event-args.js'
import { EXIT, UsageError } from '../errors.js'
import { socketPath } from '../socket-path.js'
import { connectOrQueue } from '../spool-fallback.js'

/**
 * `fst publish <fields>`: the hook's twin. `fst publish --stdin` / `--file F`: one event per line
 * (`action name protocol port ip [duration]`) over one connection, for imports and bursts.
 */
export function addPublishCommand (program: Command, emit: (text: string) => void): void {
  program.command('publish')
    .description(`hand events to the local node: ${EVENT_USAGE}, or one per line with --stdin/--file`)
    .argument('[fields...]', 'action name protocol port ip [duration]')
    .option(...CONFIG_FLAG)
    .option('--socket <path>', 'the node\'s control socket (default: controlSocket of the config)')
    .option('--stdin', 'read events from standard input, one per line')
    .option('--file <path>', 'read events from a file, one per line')
    .allowUnknownOption(false)
    .action(async (fields: string[], opts: { config?: string, socket?: string, stdin?: boolean, file?: string }) => {
      const bulk = opts.stdin === true || opts.file !== undefined
      if (bulk && fields.length > 0) throw new UsageError('give event fields or --stdin/--file, not both')
      if (!bulk) return publishOne(fields, opts, emit)
      const path = await socketPath(opts)
      if (opts.file === undefined) return emit(await publishLines(process.stdin, path))
      // opened before anything is sent: a missing file is one line and exit 2, not a stream's 'error' event
      const handle = await open(opts.file, 'r').catch((err: unknown) => {
        throw new UsageError(`--file ${opts.file}: ${errnoText(err)}`)
      })
      try {
        emit(await publishLines(handle.createReadStream({ autoClose: false }), path))
      } finally {
        await handle.close()
      }
    })
}

/**
 * One event, like the hook (queued in the spool when no node runs), but told as a person is told: a warning when no `<action>.d` exists here, and
 * an unban that matches no active ban is not published ("nothing to unban", exit 1).
 */
async function publishOne (fields: string[], opts: { config?: string, socket?: string }, emit: (text: string) => void): Promise<void> {
  const event = eventFromArgs(fields)
  // with the node down, queued as the hook queues it (no "nothing to unban" check: only the node could tell)
  const client = await connectOrQueue(await socketPath(opts), opts, { op: 'publish', ...event }, emit)
  if (client === null) return
  const warning = await unknownActionWarning(event.action, opts.config)
  if (warning !== null) process.stderr.write(`fst: ${warning}\n`)
  try {
    const { family, removes } = actionFamily(event.action)
    if (removes) {
      const found = await client.request({ op: 'list', action: family, name: event.name, ip: event.ip })
      if (found.ok && (found.entries as LedgerEntry[]).length === 0) {
        throw new UsageError(`nothing to unban: no active ${family} of ${event.ip} under the name ${event.name} (see fst show ${event.ip})`, EXIT.refused)
      }
    }
    const answer = await client.request({ op: 'publish', ...event })
    if (!answer.ok) throw new UsageError(`refused by the node: ${answer.error}`, EXIT.refused)
  } finally {
    client.close()
  }
}

/** Streams lines to the node, pipelined; reports refused lines on stderr and a summary. */
async function publishLines (input: NodeJS.ReadableStream, path: string): Promise<string> {
  const client = await ControlClient.connect(path)
  const answers: Array<Promise<void>> = []
  let accepted = 0
  let refused = 0
  let lineNo = 0
  const refuse = (n: number, why: string) => {
    refused++
    process.stderr.write(`line ${n}: ${why}\n`)
  }
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    const n = ++lineNo
    const words = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean)
    if (words.length === 0) continue
    let event: ReturnType<typeof eventFromArgs>
    try {
      event = eventFromArgs(words)
    } catch (err) {
      refuse(n, (err as Error).message)
      continue
    }
    answers.push(client.request({ op: 'publish', ...event }).then(a => {
      if (a.ok) accepted++
      else refuse(n, a.error)
    }))
    if (client.congested) await client.drain()
    // keep the answers list short: settled promises need not be held
    if (answers.length >= 4096) await Promise.all(answers.splice(0))
  }
  await Promise.all(answers)
  client.close()
  if (refused > 0) throw new UsageError(`${accepted} accepted, ${refused} refused`, EXIT.refused)
  return `${accepted} accepted`
}
