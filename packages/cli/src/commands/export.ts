import type { Command } from 'commander'
import { expiresAt, type LedgerEntry, parseAddress } from '@fst/protocol'
import { CONFIG_FLAG } from '../options.js'
import { ask } from '../control-client.js'
import { EXIT, UsageError } from '../errors.js'
import { socketPath } from '../socket-path.js'

const FORMATS = ['text', 'json', 'nft'] as const
type Format = (typeof FORMATS)[number]

/** One address with the latest end of the bans holding it (Infinity: permanent). */
interface Row { ip: string, v6: boolean, cidr: boolean, end: number }

/** Per address, the ban that ends last: several names may hold one address. */
function rows (entries: readonly LedgerEntry[]): Row[] {
  const byIp = new Map<string, Row>()
  for (const e of entries) {
    const range = parseAddress(e.ip)
    if (!range.valid) continue
    const end = expiresAt(e)
    const row = byIp.get(e.ip)
    if (row === undefined) byIp.set(e.ip, { ip: e.ip, v6: range.value.kind === 'ipv6', cidr: e.ip.includes('/'), end })
    else row.end = Math.max(row.end, end)
  }
  return [...byIp.values()]
}

/**
 * An nftables set definition per family, to paste into (or `include` from) a `table inet ...` block. Each
 * element keeps its remaining time, so the kernel expires it when the ledger would.
 */
export function nftSets (list: readonly Row[], now: number, prefix = 'fst'): string {
  return ([[false, 'ipv4_addr', '4'], [true, 'ipv6_addr', '6']] as const).map(([v6, type, n]) => {
    const elements = list.filter(r => r.v6 === v6).map(r => {
      const left = Math.ceil((r.end - now) / 1000)
      return r.end === Infinity ? r.ip : `${r.ip} timeout ${Math.max(1, left)}s`
    })
    return [
      `set ${prefix}${n} {`,
      `\ttype ${type}`,
      '\tflags interval, timeout',
      // a ban of 198.51.100.7 beside one of 198.51.100.0/24 would be "conflicting intervals" without it
      '\tauto-merge',
      ...(elements.length === 0 ? [] : [`\telements = { ${elements.join(',\n\t\t     ')} }`]),
      '}'
    ].join('\n')
  }).join('\n')
}

/** `fst export`: the active bans as a plain list, JSON, or nftables sets. */
export function addExportCommand (program: Command, emit: (text: string) => void): void {
  program.command('export')
    .description('print the active bans: plain list (one address a line), JSON, or nftables set bodies')
    .option('--format <format>', `${FORMATS.join(', ')}`, 'text')
    .option('--action <action>', 'entries of this action', 'ban')
    .option('--name <name>', 'only entries of this name (jail)')
    .option('--set-prefix <prefix>', 'nft: the sets are named <prefix>4 and <prefix>6', 'fst')
    .option(...CONFIG_FLAG)
    .addHelpText('after', `
text: "# ..." header lines, then one address/CIDR a line (what fst import reads back).
json: the ledger entries (action, name, protocol, port, ip, time, duration, origin).
nft:  "set fst4 { type ipv4_addr; flags interval, timeout; auto-merge; elements = { ... } }" and fst6, each
      element with its remaining time (none: permanent); e.g. printf 'table inet fst {\\n%s\\n}\\n' "$(fst export --format nft)" | nft -f -`)
    .action(async (opts: { format: string, action: string, name?: string, setPrefix: string, config?: string }) => {
      if (!(FORMATS as readonly string[]).includes(opts.format)) throw new UsageError(`--format: one of ${FORMATS.join(', ')} (got ${JSON.stringify(opts.format)})`)
      if (!/^[A-Za-z][A-Za-z0-9_]{0,30}$/.test(opts.setPrefix)) throw new UsageError('--set-prefix: a letter, then letters, digits or _ (at most 31)')
      const answer = await ask(await socketPath({ config: opts.config }), { op: 'list', action: opts.action, ...(opts.name === undefined ? {} : { name: opts.name }) })
      if (!answer.ok) throw new UsageError(answer.error, EXIT.refused)
      const entries = answer.entries as LedgerEntry[]
      const now = Date.now()
      const format = opts.format as Format
      if (format === 'json') return emit(JSON.stringify(entries))
      if (format === 'nft') return emit(nftSets(rows(entries), now, opts.setPrefix))
      const list = rows(entries)
      emit([`# fst export ${new Date(now).toISOString()}: ${list.length} addresses (action ${opts.action}${opts.name === undefined ? '' : `, name ${opts.name}`})`, ...list.map(r => r.ip)].join('\n'))
    })
}
