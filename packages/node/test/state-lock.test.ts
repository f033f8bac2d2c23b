import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LOCK_FILE, StateLock } from '../src/state-lock.js'

/** Field 22 of /proc/<pid>/stat, as the lock records it. */
function startTime (pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!
}

describe('StateLock', () => {
  const root = mkdtempSync(join(tmpdir(), 'fst-lock-'))
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' })
  afterAll(() => {
    sleeper.kill('SIGKILL')
    rmSync(root, { recursive: true, force: true })
  })

  it('creates the state dir and the lock, and removes both on release when it made the dir', () => {
    const dir = join(root, 'fresh')
    const lock = new StateLock(dir)
    lock.acquire()
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid} ${startTime(process.pid)}\n`)
    lock.release()
    lock.release()
    expect(existsSync(dir)).toBe(false)
  })

  it('refuses while a live process with the recorded start time holds it', () => {
    const dir = mkdtempSync(join(root, 'held-'))
    writeFileSync(join(dir, LOCK_FILE), `${sleeper.pid} ${startTime(sleeper.pid!)}\n`)
    expect(() => new StateLock(dir).acquire()).toThrow(expect.objectContaining({ name: 'StateLockError', message: expect.stringMatching(`pid ${sleeper.pid}`) }))
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${sleeper.pid} `))
  })

  it.each([
    ['a dead process', async () => {
      const child = spawn('true')
      await new Promise(resolve => child.once('exit', resolve))
      return `${child.pid} 1`
    }],
    ['a reused pid (another start time)', async () => `${sleeper.pid} 1`],
    ['this very pid (a container restarted as pid 1)', async () => `${process.pid} ${startTime(process.pid)}`],
    ['garbage', async () => 'not a pid']
  ])('takes over a lock left by %s', async (_what, content) => {
    const dir = mkdtempSync(join(root, 'stale-'))
    writeFileSync(join(dir, LOCK_FILE), `${await content()}\n`)
    const lock = new StateLock(dir)
    lock.acquire()
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid} `))
    lock.release()
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false)
    expect(existsSync(dir)).toBe(true)
  })
})
