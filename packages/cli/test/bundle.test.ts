import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const BUNDLES = [join(import.meta.dirname, '../dist/bundle'), join(import.meta.dirname, '../dist/hook')]

/**
 * One raw non-ASCII character in a chunk (esbuild escapes those in strings, not in regular expressions) makes
 * V8 keep that chunk's whole source as a two-byte string: 1.67 MB instead of 0.84 MB in every node process.
 */
describe('the bundles the bins load', () => {
  it('are ASCII only', () => {
    const files = BUNDLES.flatMap(dir => readdirSync(dir).filter(n => /\.[cm]?js$/.test(n)).map(n => join(dir, n)))
    expect(files.length).toBeGreaterThan(1)
    const offenders = files.flatMap(file => {
      const text = readFileSync(file, 'latin1')
      const at = text.search(/[^\x00-\x7f]/)
      return at < 0 ? [] : [`${file}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 20))}`]
    })
    expect(offenders).toEqual([])
  })
})
