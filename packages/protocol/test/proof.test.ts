import { describe, expect, it } from 'vitest'
import { buildTree, KnownNodes, type LedgerEntry, rememberPath, rootFromPath } from '../src/index.js'

const batch = (n: number): LedgerEntry[] =>
  Array.from({ length: n }, (_, i) => ({ action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip: `10.0.${i >> 8}.${i & 255}`, time: 1e12, duration: 0, origin: 'o' }))

/** A fixed shuffle (leaves arrive in catch-up in bucket order, which is no order of the batch). */
function shuffled (n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i)
  let seed = 7
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

describe('inclusion paths with known nodes', () => {
  const n = 2000
  const entries = batch(n)
  const { root, paths } = buildTree(entries)
  const path = (i: number) => Buffer.from(paths[i]!, 'base64')

  /** Verifies every leaf in a shuffled order the way Provenance does; returns the known nodes. */
  function verifyAll (): KnownNodes {
    const known = new KnownNodes(n)
    for (const i of shuffled(n)) {
      const r = rootFromPath(entries[i]!, i, n, path(i), known)
      if (r === 'known') continue
      expect(r?.equals(root)).toBe(true)
      rememberPath(entries[i]!, i, n, path(i), known)
    }
    return known
  }

  it('adds the nodes of every walk that met a known one, so later leaves stop low in the tree', () => {
    const complete = new KnownNodes(n)
    for (let i = 0; i < n; i++) rememberPath(entries[i]!, i, n, path(i), complete)
    // only the first leaf's path was remembered before: 22 nodes, and every later leaf hashed ~10 levels
    expect(verifyAll().size).toBe(complete.size)
  })

  it('refuses a leaf that meets a known node but carries a wrong sibling above it', () => {
    const known = verifyAll()
    for (const i of [0, 999, n - 1]) {
      const tampered = path(i)
      tampered[tampered.length - 1]! ^= 1
      expect(rootFromPath(entries[i]!, i, n, tampered, known)).toBeNull()
      expect(rootFromPath(entries[i]!, i, n, path(i), known)).toBe('known')
    }
  })

  it('refuses a leaf whose fields differ from what was signed', () => {
    const known = verifyAll()
    const forged = { ...entries[5]!, ip: '10.9.9.9' }
    const r = rootFromPath(forged, 5, n, path(5), known)
    expect(r === 'known' || r?.equals(root) === true).toBe(false)
  })
})
