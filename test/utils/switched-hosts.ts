import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function nft (ns: string, script: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] })
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

  private constructor (count: number) {
    this.switchNs = `fst-ledger-${this.tag}-sw`
    for (let i = 0; i < count; i++) this.hosts.push(`fst-ledger-${this.tag}-h${i}`)
  }

  static create (count: number): SwitchedHosts {
    const net = new SwitchedHosts(count)
    try {
      net.setup()
    } catch (err) {
      net.destroy()
      throw err
    }
    return net
  }

  private setup (): void {
    ip('netns', 'add', this.switchNs)
    ip('-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', this.switchNs, 'link', 'set', 'br0', 'up')
    for (const [i, ns] of this.hosts.entries()) {
      ip('netns', 'add', ns)
      ip('-n', ns, 'link', 'set', 'lo', 'up')
      ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `vh${i}`, 'netns', this.switchNs)
      ip('-n', ns, 'addr', 'add', `${this.address(i)}/24`, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      ip('-n', this.switchNs, 'link', 'set', `vh${i}`, 'master', 'br0')
      ip('-n', this.switchNs, 'link', 'set', `vh${i}`, 'up')
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
  }
}
