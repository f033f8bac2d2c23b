import type { Command } from 'commander'
import { CONFIG_FLAG } from '../options.js'
import { UsageError } from '../errors.js'

/** `fst check`: what `fst start` would refuse, found without starting anything (like `nginx -t`). */
export function addCheckCommand (program: Command, emit: (text: string) => void): void {
  program.command('check')
    .description('validate the config, peers file, actions dirs, keys and socket folder without starting (exit 0, or 2 and one line per problem)')
    .option(...CONFIG_FLAG)
    .addHelpText('after', `
Checks: every config key (unknown keys, rules, ignore entries, listen addresses: they parse and are addresses
of this server, as metricsListen and crowdsec.lapi.listen); sync-peers.txt (readable,
every entry parses); actionsDir and its <action>.d folders (files without an execute bit are reported);
stateDir writable; identity.key and networkKeyFile readable, parseable and mode 0600; the control socket's
folder writable; the ledger files (stateDir/ledger, stateDir/held) have sound LMDB meta pages. Reads only:
creates no key, no folder, no socket.`)
    .action(async (opts: { config?: string }) => {
      const { configPathFrom } = await import('@fst/node/config')
      const { checkSetup } = await import('@fst/node/check')
      const { config, problems, notes } = checkSetup(configPathFrom(opts.config))
      if (problems.length > 0) {
        // all but the last on stderr here; the last one through main.ts, which sets the exit code
        for (const line of problems.slice(0, -1)) process.stderr.write(`fst: ${line}\n`)
        throw new UsageError(problems.at(-1)!)
      }
      for (const note of notes) emit(`note: ${note}`)
      emit(`${config?.configFile ?? 'defaults'}: OK (peers ${config?.peersFile}, actions ${config?.actionsDir}, state ${config?.stateDir})`)
    })
}
