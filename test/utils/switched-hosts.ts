import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { atLastResort } from './last-resort.js'

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function nft (ns: string, script: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] })
}

/** One namespace to create and the `ip` calls that then set it up. */
export interface NamespaceStep { ns: string, setup: string[][] }

/**
 * The `ip` calls that put hosts on one switch: a switch namespace with bridge br0 and, per host, a namespace
 * whose eth0 (`addr`/24) is a veth whose peer `port` is a port of br0. Run them in order, creating each
 * namespace before its calls (so a caller can note what it created).
 */
export function switchPlan (switchNs: string, hosts: Array<{ ns: string, addr: string, port: string }>): NamespaceStep[] {
  const loUp = (ns: string) => ['-n', ns, 'link', 'set', 'lo', 'up']
  return [
    { ns: switchNs, setup: [loUp(switchNs), ['-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge'], ['-n', switchNs, 'link', 'set', 'br0', 'up']] },
    ...hosts.map(({ ns, addr, port }) => ({
      ns,
      setup: [
        loUp(ns),
        ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', switchNs],
        ['-n', switchNs, 'link', 'set', port, 'master', 'br0', 'up'],
        ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0'],
        ['-n', ns, 'link', 'set', 'eth0', 'up']
      ]
    }))
  ]
}

/**
 * Hosts on one switch, all in namespaces of their own (nothing touches the root namespace): a "switch"
 * namespace with a bridge, and per host a namespace whose eth0 (10.77.0.<i+1>/24) is a veth into the bridge.
 * `cut(i)` makes host i refuse every TCP segment to or from the others with a reset, so open connections
 * die at once instead of stalling; `heal(i)` removes that again.
 */
export class SwitchedHosts {
  readonly hosts: string[] = []
  readonly switchNs: string
  private readonly tag = randomBytes(3).toString('hex')
  /** Takes the last-resort teardown off once `destroy` ran. */
  private paid: () => void = () => {}

  private constructor (count: number) {
    this.switchNs = `fst-ledger-${this.tag}-sw`
    for (let i = 0; i < count; i++) this.hosts.push(`fst-ledger-${this.tag}-h${i}`)
  }

  static create (count: number): SwitchedHosts {
    const net = new SwitchedHosts(count)
    // a test process killed before its afterAll still deletes the namespaces
    net.paid = atLastResort(() => net.destroy())
    try {
      net.setup()
    } catch (err) {
      net.destroy()
      throw err
    }
    return net
  }

  private setup (): void {
    for (const step of switchPlan(this.switchNs, this.hosts.map((ns, i) => ({ ns, addr: this.address(i), port: `vh${i}` })))) {
      ip('netns', 'add', step.ns)
      for (const args of step.setup) ip(...args)
    }
  }

  address (index: number): string {
    return `10.77.0.${index + 1}`
  }

  cut (index: number): void {
    nft(this.hosts[index]!, `table inet fstcut {
  chain in { type filter hook input priority 0; policy accept; ip saddr 10.77.0.0/24 meta l4proto tcp reject with tcp reset; }
  chain out { type filter hook output priority 0; policy accept; ip daddr 10.77.0.0/24 meta l4proto tcp reject with tcp reset; }
}
`)
  }

  heal (index: number): void {
    nft(this.hosts[index]!, 'delete table inet fstcut\n')
  }

  /** Deletes every namespace (their links go with them); safe to call twice and after a failed set-up. */
  destroy (): void {
    for (const ns of [...this.hosts, this.switchNs]) {
      try {
        ip('netns', 'delete', ns)
      } catch {
        // never created, or already gone
      }
    }
    this.paid()
  }
}
