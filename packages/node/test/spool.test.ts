import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ControlResponse, encodeSpoolRecord, MAX_SPOOL_FILE, SPOOL_FULL_MARKER, spoolFileName } from '@fst/protocol'
import pWaitFor from 'p-wait-for'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, describe, expect, it } from 'vitest'
import { createNodeMetrics } from '../src/metrics/metrics.js'
import { SpoolDrainer } from '../src/spool/drainer.js'

const ban = (ip: string) => ({ op: 'publish', action: 'ban', name: 'sshd', protocol: 'tcp', port: '22', ip, duration: 600 })

/** Writes a record as the hook does (name carrying time and size). */
function spoolRecord (dir: string, time: number, request: Record<string, unknown>, unique = 'a1'): string {
  const body = encodeSpoolRecord(time, request)
  const name = spoolFileName(time, unique, body.length)
  writeFileSync(join(dir, name), body)
  return name
}

/** A drainer over `dir` whose publish records what it was given. */
function drainerOf (dir: string) {
  const metrics = createNodeMetrics(new Registry())
  const given: Array<{ input: Record<string, unknown>, reportedAt: number }> = []
  const lines: string[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(line) } })
  const drainer = new SpoolDrainer({
    dir,
    publish: async (input, reportedAt): Promise<ControlResponse> => {
      given.push({ input, reportedAt })
      return { ok: true, published: true }
    },
    metrics,
    log,
    rescanMs: 60_000
  })
  const outcomes = async () => Object.fromEntries((await metrics.spoolDrained.get()).values.map(v => [v.labels.outcome, v.value]))
  return { drainer, given, lines, metrics, outcomes }
}

describe('SpoolDrainer', () => {
  const root = mkdtempSync(join(tmpdir(), 'fst-spool-'))
  afterAll(() => { rmSync(root, { recursive: true, force: true }) })

  it('hands every record to publish in report order with its report time, then removes it', async () => {
    const dir = join(root, 'order')
    mkdirSync(dir)
    spoolRecord(dir, 2000, ban('192.0.2.2'))
    spoolRecord(dir, 1000, ban('192.0.2.1'))
    spoolRecord(dir, 3000, { ...ban('192.0.2.1'), action: 'unban' })
    const { drainer, given, outcomes } = drainerOf(dir)
    drainer.start()
    await drainer.drain()
    await drainer.stop()
    expect(given.map(g => [g.reportedAt, g.input.action, g.input.ip])).toEqual([[1000, 'ban', '192.0.2.1'], [2000, 'ban', '192.0.2.2'], [3000, 'unban', '192.0.2.1']])
    expect(readdirSync(dir)).toEqual([])
    expect(await outcomes()).toEqual({ published: 3 })
    expect(drainer.depth).toBe(0)
  })

  it('sets aside truncated, foreign, oversized, symlinked and non-regular files with a warning each, publishing none of them', async () => {
    const dir = join(root, 'damage')
    mkdirSync(dir)
    spoolRecord(dir, 1000, ban('192.0.2.9'))
    const whole = encodeSpoolRecord(2000, ban('192.0.2.10'))
    writeFileSync(join(dir, spoolFileName(2000, 'trunc', whole.length)), whole.subarray(0, 30))
    const junk = Buffer.from('{"v":1,"time":"yesterday","request":{}}\n')
    writeFileSync(join(dir, spoolFileName(3000, 'junk', junk.length)), junk)
    // a whole record that asks for something other than a publish: never run
    spoolRecord(dir, 3500, { op: 'repin', peer: '127.0.0.1:4242' }, 'repin')
    const big = Buffer.alloc(MAX_SPOOL_FILE + 1, 'x')
    writeFileSync(join(dir, spoolFileName(4000, 'big', big.length)), big)
    // a link to a record elsewhere: followed, it would let anyone who can make links choose what root reads
    const outside = join(root, 'outside.json')
    writeFileSync(outside, whole)
    symlinkSync(outside, join(dir, spoolFileName(5000, 'link', whole.length)))
    execFileSync('mkfifo', [join(dir, spoolFileName(6000, 'fifo', whole.length))])
    mkdirSync(join(dir, spoolFileName(7000, 'dir', whole.length)))
    const { drainer, given, lines, outcomes } = drainerOf(dir)
    drainer.start()
    await drainer.drain()
    await drainer.stop()
    expect(given.map(g => g.input.ip)).toEqual(['192.0.2.9'])
    expect(await outcomes()).toEqual({ published: 1, damaged: 7 })
    expect(readdirSync(dir).filter(n => n.endsWith('.json'))).toEqual([])
    expect(readdirSync(dir).filter(n => n.endsWith('.damaged'))).toHaveLength(7)
    expect(existsSync(outside)).toBe(true)
    const warnings = lines.map(l => JSON.parse(l) as { level: number, reason?: string, msg: string }).filter(l => l.level === 40 && l.msg.includes('not a report'))
    expect(warnings.map(w => w.reason).sort()).toEqual(['bad_record', 'bad_record', 'not_regular', 'not_regular', 'not_regular', 'size_mismatch', 'too_large'])
  })

  it('counts the hook calls a full spool refused from the marker, once', async () => {
    const dir = join(root, 'full')
    mkdirSync(dir)
    writeFileSync(join(dir, SPOOL_FULL_MARKER), '...')
    const { drainer, metrics } = drainerOf(dir)
    drainer.start()
    await drainer.drain()
    await drainer.drain()
    await drainer.stop()
    expect((await metrics.spoolFull.get()).values[0]?.value).toBe(3)
    expect(readdirSync(dir)).toEqual([])
  })

  it('makes the folder root only, and refuses a folder that is a symlink', async () => {
    const open = join(root, 'open')
    mkdirSync(open, { mode: 0o777 })
    chmodSync(open, 0o777)
    const { drainer } = drainerOf(open)
    drainer.start()
    await drainer.stop()
    expect(statSync(open).mode & 0o777).toBe(0o700)
    const link = join(root, 'link')
    symlinkSync(open, link)
    expect(() => drainerOf(link).drainer.start()).toThrow(expect.objectContaining({ name: 'ConfigError' }))
  })

  it('picks up a file that appears while it runs', async () => {
    const dir = join(root, 'watch')
    mkdirSync(dir)
    const { drainer, given } = drainerOf(dir)
    drainer.start()
    await drainer.drain()
    spoolRecord(dir, 1000, ban('192.0.2.20'))
    await pWaitFor(() => given.length > 0, { interval: 10, timeout: 5000 })
    await drainer.stop()
    expect(given.map(g => g.input.ip)).toEqual(['192.0.2.20'])
  })
})
