import { Command } from 'commander'
import { addMetricsCommand } from './commands/metrics.js'
import { addNodeCommands } from './commands/node.js'
import { addPublishCommand } from './commands/publish.js'
import { addQueryCommands } from './commands/query.js'
import { versionText } from './version.js'

/** `fst`: one command per module under commands/. */
export async function cli (argv: string[]): Promise<string | undefined> {
  let output: string | undefined
  const program = new Command('fst')
    .description('FST, the Firewall Synchronization Tool: one server\'s ban protects the whole fleet')
    .version(versionText('fst'), '-V, --version', 'print the version, git commit and Node version')
    .showHelpAfterError()
  const emit = (text: string) => { output = text }
  addNodeCommands(program, emit)
  addPublishCommand(program, emit)
  addQueryCommands(program, emit)
  addMetricsCommand(program)
  await program.parseAsync(argv)
  return output
}

/** The `--config` option every command takes. */
export const CONFIG_FLAG = ['-c, --config <path>', 'config file (default: $FST_CONFIG, else /etc/fst/config.yml if it exists, else built-in defaults)'] as const
