import type { Stats } from 'node:fs'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { listScripts, selectScript } from '../src/actions/scripts.js'

const file = (mode = 0o644) => ({ isFile: () => true, mode }) as Stats
const folder = { isFile: () => false, mode: 0o755 } as Stats

describe('selectScript on Windows', () => {
  it.each([
    ['50-ban.exe', []],
    ['50-ban.bat', ['cmd.exe', '/d', '/c']],
    ['50-ban.CMD', ['cmd.exe', '/d', '/c']],
    ['50-ban.ps1', ['powershell.exe', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File']]
  ])('runs %s with %j', (name, interpreter) => {
    expect(selectScript(name, `C:\\fst\\actions\\ban.d\\${name}`, 'win32', file())).toEqual({
      path: `C:\\fst\\actions\\ban.d\\${name}`, name, batch: false, interpreter
    })
  })

  it('ignores the execute bit and skips files it cannot run', () => {
    for (const name of ['50-ban', '50-ban.sh', '50-ban.txt', '50-ban.py', '50-ban.bat.txt']) {
      expect(selectScript(name, name, 'win32', file(0o755)), name).toBeNull()
    }
    expect(selectScript('x.bat', 'x.bat', 'win32', folder)).toBeNull()
    expect(selectScript('x.bat', 'x.bat', 'win32', null)).toBeNull()
  })

  it('recognises batch scripts by the .batch part of the name', () => {
    expect(selectScript('50-nft.batch.ps1', 'p', 'win32', file())).toMatchObject({ batch: true, interpreter: ['powershell.exe', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File'] })
    expect(selectScript('50-nft.batch.cmd', 'p', 'win32', file())).toMatchObject({ batch: true })
    expect(selectScript('50-batcher.cmd', 'p', 'win32', file())).toMatchObject({ batch: false })
  })
})

describe('selectScript on POSIX', () => {
  it('runs regular files with an execute bit directly', () => {
    expect(selectScript('50-ban', '/a/50-ban', 'linux', file(0o755))).toEqual({ path: '/a/50-ban', name: '50-ban', batch: false, interpreter: [] })
    expect(selectScript('50-ban', '/a/50-ban', 'linux', file(0o700))).not.toBeNull()
    expect(selectScript('50-nft.batch', '/a/50-nft.batch', 'freebsd', file(0o755))).toMatchObject({ batch: true })
  })
  it('skips files without an execute bit, and folders', () => {
    expect(selectScript('50-ban', '/a/50-ban', 'linux', file(0o644))).toBeNull()
    expect(selectScript('50-ban.bat', '/a/50-ban.bat', 'linux', file(0o644))).toBeNull()
    expect(selectScript('sub', '/a/sub', 'linux', folder)).toBeNull()
  })
})

describe('listScripts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-scripts-'))
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it('lists in byte order and returns nothing for a missing folder', () => {
    for (const [name, mode] of [['b.bat', 0o644], ['a.ps1', 0o644], ['10-x', 0o755], ['.hidden.bat', 0o644], ['c.cmd~', 0o644]] as const) {
      writeFileSync(join(dir, name), '')
      chmodSync(join(dir, name), mode)
    }
    mkdirSync(join(dir, 'd.bat'))
    expect(listScripts(dir, 'win32').map(s => s.name)).toEqual(['a.ps1', 'b.bat'])
    expect(listScripts(dir, 'linux').map(s => s.name)).toEqual(['10-x'])
    expect(listScripts(join(dir, 'missing'), 'linux')).toEqual([])
  })
})
