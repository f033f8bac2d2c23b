import { Command, CommanderError } from 'commander'
import { addBanCommands } from './commands/ban.js'
import { addCheckCommand } from './commands/check.js'
import { addCompletionCommand } from './commands/completion.js'
import { addExportCommand } from './commands/export.js'
import { addImportCommand } from './commands/import.js'
import { addMetricsCommand } from './commands/metrics.js'
import { addNodeCommands } from './commands/node.js'
import { addPublishCommand } from './commands/publish.js'
import { addQueryCommands } from './commands/query.js'
import { EXIT, UsageError } from './errors.js'
import { versionText } from './version.js'

/** The end of `fst --help`: what a man page would add (files, environment, exit codes). */
const FOOTER = `
Examples:
  fst check --config /etc/fst/config.yml        validate everything without starting (like nginx -t)
  fst start --config /etc/fst/config.yml        run the node in the foreground (systemd: fst-server.service)
  fst ban 203.0.113.7 --duration 3600           ban on every server for an hour (name "manual")
  fst unban 203.0.113.7                         lift every ban of that address, whatever the name
  fst import blocklist.txt --name drop --duration 86400
  fst export --format nft > banned.nft          the active bans as an nftables set body
  fst status || echo "no peer connected"

Configuration: --config PATH, else $FST_CONFIG, else /etc/fst/config.yml (docs/configuration.md). The config file names the
peers file (sync-peers.txt), the actions dir (<action>.d/ scripts), the state dir (identity.key,
known_peers, ledger/, fst.lock) and the control socket the other commands talk to.

Environment:
  FST_CONFIG   config file when --config is not given
  FST_SOCKET   control socket of fst-action and fst publish (then no config file is read)
  FST_SPOOL    spool folder of fst-action, ban, unban and publish instead of spool.dir

Exit codes:
  0   done; or no node runs and the report (fst-action, ban, unban --name, publish) was queued in the spool
  1   the node refused the request, or nothing to do: an unban nothing matched, a status with no peer;
      or the spool is full (spool.maxEvents, spool.maxBytes) and the report is lost
  2   usage or configuration mistake: bad argument, bad config key, missing file, busy port,
      a second node on the same state dir (one line on stderr naming the file, key or entry)
  3   no node answers on the control socket (not running, or another socket), and for a report
      the spool could not be written either
  70  internal error (a bug: the stack trace is printed; please report it)

Shell completion: eval "$(fst completion bash)" or fst completion zsh > "\${fpath[1]}/_fst".
Every command has its own --help. Full manual: docs/cli.md.`

/** Builds the command tree (also read by `fst completion` to generate the shell scripts). */
export function program (emit: (text: string) => void = text => { process.stdout.write(text.endsWith('\n') ? text : `${text}\n`) }): Command {
  const root = new Command('fst')
    .description('FST, the Firewall Synchronization Tool: one server\'s ban protects the whole fleet')
    // commander's own messages become one stderr line of ours (main.ts), never a process.exit of its own
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .version(versionText('fst'), '-V, --version', 'print the version, git commit and Node version')
    .addHelpText('after', FOOTER)
  addNodeCommands(root, emit)
  addCheckCommand(root, emit)
  addPublishCommand(root, emit)
  addBanCommands(root, emit)
  addQueryCommands(root, emit)
  addImportCommand(root, emit)
  addExportCommand(root, emit)
  addMetricsCommand(root)
  addCompletionCommand(root, emit)
  return root
}

/** `fst`: one command per module under commands/. */
export async function cli (argv: string[]): Promise<string | undefined> {
  try {
    await program().parseAsync(argv)
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err
    if (err.exitCode === 0) return undefined
    const command = argv.slice(2).find(a => !a.startsWith('-'))
    const hint = command === undefined || err.code === 'commander.unknownCommand' ? 'fst --help' : `fst ${command} --help`
    // commander's suggestion ("Did you mean ban?") comes on a second line: keep one
    throw new UsageError(`${err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see ${hint})`, EXIT.usage)
  }
  return undefined
}

