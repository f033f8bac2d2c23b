import type { Command, Option } from 'commander'
import { UsageError } from '../errors.js'

/** A command's flags: long and short names, and whether each takes a value. */
interface Spec { name: string, flags: Array<{ names: string[], value: boolean, description: string }>, description: string }

/** The command tree as commander holds it: completion can never drift from what the parser accepts. */
export function commandSpecs (program: Command): Spec[] {
  const flagsOf = (options: readonly Option[]) => [
    ...options.map(o => ({ names: [o.long, o.short].filter((n): n is string => n !== undefined), value: o.required || o.optional, description: o.description })),
    { names: ['--help', '-h'], value: false, description: 'display help' }
  ]
  return program.commands.map(c => ({ name: c.name(), flags: flagsOf(c.options), description: c.description() }))
}

/** bash: static (no Node start per TAB press); files for arguments and for options that take a value. */
export function bashCompletion (program: Command): string {
  const specs = commandSpecs(program)
  const cases = specs.map(s => {
    const words = s.flags.flatMap(f => f.names).join(' ')
    const valued = s.flags.filter(f => f.value).flatMap(f => f.names).join('|')
    return `    ${s.name})\n      opts="${words}"\n      valued="${valued}" ;;`
  }).join('\n')
  return `# bash completion for fst, generated from its command definitions by \`fst completion bash\`
_fst() {
  local cur prev cmd opts valued i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${specs.map(s => s.name).join(' ')} --help -h" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases}
    *) opts=""; valued="" ;;
  esac
  if [[ -n "$valued" && "|$valued|" == *"|$prev|"* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _fst fst
`
}

/** zsh: a #compdef function using _arguments, with each command's and option's description. */
export function zshCompletion (program: Command): string {
  const q = (text: string) => text.replace(/'/g, "'\\''").replace(/[[\]:]/g, m => `\\${m}`)
  const specs = commandSpecs(program)
  const commands = specs.map(s => `    '${s.name}:${q(s.description)}'`).join('\n')
  const cases = specs.map(s => {
    const args = s.flags.map(f => {
      const names = f.names.length > 1 ? `{${f.names.join(',')}}` : f.names[0]!
      return `'${names}[${q(f.description)}]${f.value ? ':value:_files' : ''}'`
    }).join(' \\\n          ')
    return `      ${s.name})\n        _arguments \\\n          ${args} \\\n          '*:file:_files' ;;`
  }).join('\n')
  return `#compdef fst
# zsh completion for fst, generated from its command definitions by \`fst completion zsh\`
_fst() {
  local -a commands
  commands=(
${commands}
  )
  if (( CURRENT == 2 )); then
    _describe 'fst command' commands
    return
  fi
  case "\${words[2]}" in
${cases}
  esac
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then _fst "$@"; else compdef _fst fst; fi
`
}

/** `fst completion bash|zsh`: prints the script to source or install. */
export function addCompletionCommand (program: Command, emit: (text: string) => void): void {
  program.command('completion')
    .description('print a shell completion script: bash or zsh')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', `
bash: eval "$(fst completion bash)" in ~/.bashrc, or fst completion bash > /etc/bash_completion.d/fst
zsh:  fst completion zsh > "\${fpath[1]}/_fst" (then compinit), or eval "$(fst completion zsh)" after compinit`)
    .action((shell: string) => {
      if (shell === 'bash') return emit(bashCompletion(program))
      if (shell === 'zsh') return emit(zshCompletion(program))
      throw new UsageError(`completion: unknown shell ${JSON.stringify(shell)} (bash or zsh)`)
    })
}
