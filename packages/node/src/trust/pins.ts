import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** File in the state dir recording the peer ID first seen at each address, like SSH's known_hosts. */
export const PINS_FILE = 'known_peers'

/**
 * Trust-on-first-use pins for peers-file entries that name no peer ID. One line per pin: `<entry> <peerId>`.
 */
export class PinStore {
  private readonly file: string
  private readonly pins = new Map<string, string>()

  constructor (stateDir: string) {
    this.file = join(stateDir, PINS_FILE)
    if (!existsSync(this.file)) return
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      const [entry, peerId] = line.trim().split(/\s+/)
      if (entry !== undefined && peerId !== undefined) this.pins.set(entry, peerId)
    }
  }

  get (entry: string): string | undefined {
    return this.pins.get(entry)
  }

  values (): IterableIterator<string> {
    return this.pins.values()
  }

  /** Records the first peer ID seen for an entry. */
  pin (entry: string, peerId: string): void {
    this.pins.set(entry, peerId)
    appendFileSync(this.file, `${entry} ${peerId}\n`, { mode: 0o600 })
  }

  /** Forgets the pin of an entry (its key was legitimately replaced); returns whether there was one. */
  unpin (entry: string): boolean {
    const had = this.pins.delete(entry)
    writeFileSync(this.file, [...this.pins].map(([e, p]) => `${e} ${p}\n`).join(''), { mode: 0o600 })
    return had
  }
}
