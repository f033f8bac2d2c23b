import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from '../utils/browser.js'
import { ROOT } from '../utils/mesh.js'

/**
 * The page's document, as far as the functions given to page.waitForFunction read it: they run in the page
 * (its CSP allows no string expressions), and the test's tsconfig has no DOM types.
 */
declare const document: { querySelector (selector: string): { textContent: string | null } | null }

/** Pids whose parent is `pid` (the demo's nodes and metrics service, each in its own process group). */
function children (pid: number): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry))
    } catch {}
  }
  return found
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Issue 27: `pnpm demo` (without --once) starts the metrics service beside its three nodes, prints the
 * dashboard's URL and keeps feeding example bans. A real chromium opens the URL the demo printed and sees
 * the bans arrive and expire on the page without a reload; SIGTERM stops everything the demo started.
 */
describe('pnpm demo with its live dashboard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fst-demo-dash-'))
  let demo: ChildProcess
  let output = ''
  const waiters: Array<() => void> = []
  let started: number[] = []
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined
  let page: Page
  const problems: string[] = []

  /** Resolves with the first match of `pattern` in the demo's output so far or to come. */
  const printed = (pattern: RegExp) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const check = () => {
      const match = output.match(pattern)
      if (match !== null) return resolve(match)
      if (demo.exitCode !== null) return reject(new Error(`the demo exited (${demo.exitCode}) before printing ${pattern}:\n${output}`))
      waiters.push(check)
    }
    check()
  })

  beforeAll(async () => {
    // a ban a second, each lasting 3 s, so expiries come soon
    demo = spawn(process.execPath, [join(ROOT, 'test/demo/demo.js'), '--dir', join(dir, 'demo'), '--every', '1', '--ban-for', '3'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const grow = (d: Buffer) => {
      output += d.toString()
      for (const waiter of waiters.splice(0)) waiter()
    }
    demo.stdout!.on('data', grow)
    demo.stderr!.on('data', grow)
    demo.once('exit', () => { for (const waiter of waiters.splice(0)) waiter() })
    await printed(/^Script runs appear here/m)
    started = children(demo.pid!)
    browser = await launchBrowser()
    page = await browser.context.newPage()
    page.on('console', msg => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${msg.type()}: ${msg.text()}`) })
    page.on('pageerror', err => problems.push(`pageerror: ${err.message}`))
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    if (demo !== undefined && demo.exitCode === null && demo.signalCode === null) {
      const exited = new Promise(resolve => demo.once('exit', resolve))
      demo.kill('SIGTERM')
      await exited
    }
    // whatever the demo did not stop (it failed, or the test did before the SIGTERM test)
    for (const pid of started) if (alive(pid)) process.kill(-pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('prints the dashboard URL, and the page shows the example bans arriving and expiring', { timeout: 90_000 }, async () => {
    const [, url] = await printed(/^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m)
    expect(output).toMatch(/^Mesh connected: every node has the other two and the metrics service as gossipsub peers\.$/m)
    // three nodes and the metrics service
    expect(started).toHaveLength(4)
    await page.goto(url!)
    await page.locator('#conn[data-state="live"]').waitFor()
    const loads: string[] = []
    page.on('load', () => loads.push(page.url()))
    expect(await page.locator('#peers-connected').textContent()).toBe('3 / 3')
    // the demo's first ban, published before the page opened
    await page.locator('#feed tbody tr', { hasText: /203\.0\.113\.7/ }).waitFor()
    const first = Number(await page.locator('#total-bans').textContent())
    expect(first).toBeGreaterThanOrEqual(1)

    // example bans from 192.0.2.0/24 arrive without a reload, from more than one node
    await page.waitForFunction(n => Number(document.querySelector('#total-bans')?.textContent) >= n + 3, first)
    const exampleRows = page.locator('#feed tbody tr').filter({ hasText: /192\.0\.2\.\d/ })
    const example = exampleRows.filter({ hasNotText: /unban/ })
    await example.nth(2).waitFor()
    const origins = new Set((await example.allInnerTexts()).map(row => row.match(/127\.0\.0\.1:\d+/)?.[0]))
    expect(origins.size).toBeGreaterThan(1)
    // they are short: listed as expiring, then they expire (the origin's expiry shows as an unban) and the
    // active count falls below the bans seen (nobody lifts them by hand)
    await page.locator('#expiring tbody tr', { hasText: /192\.0\.2\.\d+/ }).first().waitFor()
    await exampleRows.filter({ hasText: /unban/ }).first().waitFor()
    await page.waitForFunction(() => Number(document.querySelector('#active-bans')?.textContent) < Number(document.querySelector('#total-bans')?.textContent))
    // and the other nodes ran their unban scripts when they expired
    await printed(/^ {2}node [123] ran unban\.d\/50-log-only: unban \S+ tcp \S+ 192\.0\.2\.\d+ /m)
    expect(loads).toEqual([])
    expect(problems.join('\n')).toBe('')
  })

  it('stops the nodes and the metrics service on SIGTERM', { timeout: 30_000 }, async () => {
    const exited = new Promise<number | null>(resolve => demo.once('exit', resolve))
    demo.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(started.filter(alive)).toEqual([])
  })
})
