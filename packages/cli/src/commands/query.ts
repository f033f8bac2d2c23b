import type { Command } from 'commander'
import { actionFamily, expiresAt, type LedgerEntry, type NodeStatus, type PeerRow, parseAddress } from '@fst/protocol'
import { CONFIG_FLAG } from '../options.js'
import { ask } from '../control-client.js'
import { EXIT, UsageError } from '../errors.js'
import { socketPath } from '../socket-path.js'

/** `fst status`, `fst peers`, `fst list`, `fst show`, `fst repin`: questions to the running node. */
export function addQueryCommands (program: Command, emit: (text: string) => void): void {
  const query = async (config: string | undefined, req: Parameters<typeof ask>[1]) => {
    const answer = await ask(await socketPath({ config }), req)
    if (!answer.ok) throw new UsageError(answer.error, EXIT.refused)
    const { ok: _ok, ...rest } = answer
    return rest as Record<string, unknown>
  }

  program.command('status')
    .description('show this node\'s peer ID, connected peers and ledger size; exit 1 when no peer is connected')
    .option(...CONFIG_FLAG)
    .option('--json', 'print one JSON object')
    .action(async (opts: { config?: string, json?: boolean }) => {
      const s = await query(opts.config, { op: 'status' }) as unknown as NodeStatus
      // a node alone protects nobody: scripts and monitoring can test `fst status` like /readyz
      const alone = () => {
        if (s.peers.length === 0) throw new UsageError('no peer connected (see fst peers)', EXIT.refused)
      }
      if (opts.json === true) {
        emit(JSON.stringify(s))
        return alone()
      }
      const { peers, ledger, messages } = s
      emit([
        `peer ID:  ${String(s.peerId)}`,
        `listen:   ${s.listen.join(' ')}`,
        `peers:    ${peers.length} connected${peers.length > 0 ? `\n          ${peers.join('\n          ')}` : ''}`,
        `ledger:   ${ledger.active} active of ${ledger.entries} entries`,
        `queue:    ${String(s.queue)} events waiting for scripts`,
        ...(s.spool === undefined ? [] : [`spool:    ${s.spool.depth} reports waiting to be published`]),
        ...(s.memory === undefined ? [] : [`memory:   ${s.memory.rssMb} MB resident, JavaScript heap ${s.memory.heapUsedMb} MB used of ${s.memory.heapTotalMb} MB`]),
        `messages: ${messages.published} published, ${messages.accepted} accepted; ${messages.suppressed} hook calls changed nothing (echoes)`,
        ...(s.catchup === undefined ? [] : [`catch-up: ${s.catchup.applied} entries applied (what gossip did not bring)`])
      ].join('\n'))
      alone()
    })

  program.command('peers')
    .description('list configured peers, their pinned IDs, connection state and last message')
    .option(...CONFIG_FLAG)
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string, json?: boolean }) => {
      const { peers } = await query(opts.config, { op: 'peers' }) as unknown as { peers: PeerRow[] }
      if (opts.json === true) return emit(JSON.stringify(peers))
      emit(peers.map(p => [
        p.entry.padEnd(28),
        (p.self ? 'self' : p.connected ? 'connected' : p.keyChanged != null ? 'key changed' : 'down').padEnd(12),
        `${p.pinned}:${p.peerId ?? '-'}`,
        p.lastMessage === null ? '' : `last ${new Date(p.lastMessage).toISOString()}`,
        ...(p.keyChanged == null || p.connected ? [] : [`now answers as ${p.keyChanged.peerId} since ${new Date(p.keyChanged.since).toISOString()}`])
      ].join(' ')).join('\n'))
    })

  type Filter = { action?: string, name?: string, ip?: string, all?: boolean, overlapping?: boolean }
  const list = async (config: string | undefined, filter: Filter, json: boolean) => {
    const { entries } = await query(config, { op: 'list', ...filter }) as unknown as { entries: LedgerEntry[] }
    if (json) return JSON.stringify(entries)
    if (entries.length === 0) return filter.all === true ? 'no entries' : 'no active entries'
    return entries.map(e => [
      e.action, e.name, e.protocol, e.port, e.ip,
      new Date(e.time).toISOString(),
      actionFamily(e.action).removes ? 'removed' : expiresAt(e) === Infinity ? 'permanent' : `expires ${new Date(expiresAt(e)).toISOString()}`,
      `from ${e.origin}`
    ].join(' ')).join('\n')
  }

  program.command('list')
    .description('list active entries of the ledger')
    .option(...CONFIG_FLAG)
    .option('--action <action>', 'only this action')
    .option('--name <name>', 'only this name (jail)')
    .option('--ip <address>', 'only this address or CIDR (exact)')
    .option('--all', 'include tombstones: removals and expired bans')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string, action?: string, name?: string, ip?: string, all?: boolean, json?: boolean }) => {
      const ip = opts.ip === undefined ? undefined : canonical(opts.ip)
      emit(await list(opts.config, { action: opts.action, name: opts.name, ip, all: opts.all === true }, opts.json === true))
    })

  program.command('show')
    .description('show every active entry whose address or CIDR overlaps the given one')
    .argument('<ip>', 'address or CIDR')
    .option(...CONFIG_FLAG)
    .option('--all', 'include tombstones: removals and expired bans')
    .option('--json', 'print JSON')
    .action(async (ip: string, opts: { config?: string, all?: boolean, json?: boolean }) => {
      emit(await list(opts.config, { ip: canonical(ip), overlapping: true, all: opts.all === true }, opts.json === true))
    })

  program.command('repin')
    .description('forget the first-use pin of a peer whose key was legitimately replaced')
    .argument('<entry>', 'the entry exactly as written in sync-peers.txt')
    .option(...CONFIG_FLAG)
    .action(async (entry: string, opts: { config?: string }) => {
      await query(opts.config, { op: 'repin', peer: entry })
      emit(`forgot the pin of ${entry}; the next connection pins its current key`)
    })
}

function canonical (ip: string): string {
  const parsed = parseAddress(ip)
  if (!parsed.valid) throw new UsageError(parsed.error)
  return parsed.value.text
}
