import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser } from '../utils/browser.js'
import { ROOT, type Mesh } from '../utils/mesh.js'
import { MetricsProcess } from '../utils/metrics-service.js'

const OUTPUT = join(ROOT, 'test-output')

/**
 * Issue 6 acceptance: a real chromium opens the dashboard of a metrics peer on a three-node mesh; bans
 * published with the hook show up in the counters, the feed and the chart without a reload, and the page
 * logs no errors. Screenshots at phone and monitor width go to test-output/.
 * Issue 20 (dashboard v2): contribution by origin, country and AS of banned addresses (offline databases),
 * search by address with its history, propagation delay, refused messages, expiry times, the clock with its
 * time zone, and history that survives a restart of the metrics service. The metrics service protects
 * 198.51.100.0/24 (the nodes do not), so a ban there is a real refused message.
 */
describe('live dashboard in a real browser', () => {
  let mesh: Mesh
  let metrics: MetricsProcess
  let browser: Awaited<ReturnType<typeof launchBrowser>>
  let page: Page
  const problems: string[] = []

  beforeAll(async () => {
    ;({ mesh, metrics } = await MetricsProcess.withMesh({ nodes: 3 }, { ignore: ['198.51.100.0/24'] }))
    // a time zone other than the machine's, so the clock panel shows it is the browser's
    browser = await launchBrowser({ timezoneId: 'Europe/Berlin' })
    page = await browser.context.newPage()
    page.on('console', msg => { if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`${msg.type()}: ${msg.text()}`) })
    page.on('pageerror', err => problems.push(`pageerror: ${err.message}`))
    page.on('requestfailed', req => { if (!req.url().endsWith('/events')) problems.push(`requestfailed: ${req.url()}`) })
    mkdirSync(OUTPUT, { recursive: true })
  })
  afterAll(async () => {
    await browser?.close()
    await metrics?.stop()
    await mesh?.stop()
  })

  // playwright's innerText (rendered text, cells separated by whitespace), not the DOM property
  // biome-ignore lint/performance/useDomNodeTextContent: a Locator method
  const shown = (locator: Locator) => locator.innerText()
  const text = (selector: string) => shown(page.locator(selector))
  const chartBans = () => page.$$eval('#chart rect.ban', rects => rects.reduce((sum, r) => sum + Number(r.getAttribute('data-count')), 0))
  const chartUnbans = () => page.$$eval('#chart rect.unban', rects => rects.reduce((sum, r) => sum + Number(r.getAttribute('data-count')), 0))

  it('shows the mesh peers and empty counters on first load', async () => {
    await page.setViewportSize({ width: 1400, height: 1000 })
    await page.goto(metrics.url)
    await page.locator('#conn[data-state="live"]').waitFor()
    expect(await text('#active-bans')).toBe('0')
    expect(await text('#peers-connected')).toBe('3 / 3')
    expect(await page.locator('#peers tbody tr').count()).toBe(3)
    expect(await chartBans()).toBe(0)
  })

  it('updates counters, feed and chart live as bans are published', async () => {
    const loads: string[] = []
    page.on('load', () => loads.push(page.url()))
    await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '203.0.113.10', '0'])
    await page.locator('#active-bans', { hasText: /^1$/ }).waitFor()
    // the origin is shown as its sync-peers.txt entry; a permanent ban (duration 0: a hook call without one gets defaultDurationS) never expires
    expect(await shown(page.locator('#feed tbody tr').first())).toMatch(new RegExp(`ban\\s+sshd\\s+203\\.0\\.113\\.10\\s+(?:[A-Z]{2}\\s+)?never\\s+127\\.0\\.0\\.1:${mesh.nodes[0]!.port}`))

    await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', '203.0.113.11', '0'])
    await mesh.hook(2, ['ban', 'nginx-http-auth', 'tcp', '443', '2001:db8::7', '0'])
    await mesh.hook(0, ['unban', 'sshd', 'tcp', '22', '203.0.113.10'])
    await page.locator('#total-unbans', { hasText: /^1$/ }).waitFor()
    expect(await text('#active-bans')).toBe('2')
    expect(await text('#total-bans')).toBe('3')
    expect(await chartBans()).toBe(3)
    expect(await chartUnbans()).toBe(1)
    const feed = await page.locator('#feed tbody tr').allInnerTexts()
    expect(feed).toHaveLength(4)
    expect(feed[0]).toMatch(/unban\s+sshd\s+203\.0\.113\.10/)
    expect(feed[1]).toMatch(/ban\s+nginx-http-auth\s+2001:db8::7/)
    expect(await shown(page.locator('#top-names li').first())).toMatch(/sshd\s+3/)
    expect(await page.locator('#top-actions li').allInnerTexts()).toEqual([expect.stringMatching(/ban\s+3/), expect.stringMatching(/unban\s+1/)])
    expect(await text('#top-networks')).toMatch(/203\.0\.113\.0\/24\s+2[\s\S]*2001:db8::\/64\s+1/)
    // every node is heard from; the page was never reloaded
    await page.locator('#peers tbody tr', { hasText: 'never' }).first().waitFor({ state: 'detached' })
    expect(loads).toEqual([])
    await page.screenshot({ path: join(OUTPUT, 'dashboard-wide.png'), fullPage: true })
  })

  it('keeps the history across a browser reload and fits a phone-width screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.reload()
    await page.locator('#conn[data-state="live"]').waitFor()
    expect(await text('#total-bans')).toBe('3')
    expect(await chartBans()).toBe(3)
    expect(await page.locator('#feed tbody tr').count()).toBe(4)
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    await page.screenshot({ path: join(OUTPUT, 'dashboard-phone.png'), fullPage: true })
  })

  it('shows contribution by origin, countries and ASes, expiry, delay and refused messages from real mesh data', async () => {
    await page.setViewportSize({ width: 1400, height: 1000 })
    await page.reload()
    await page.locator('#conn[data-state="live"]').waitFor()
    // public addresses with well-known owners (data only: nothing is sent to them)
    expect((await mesh.hook(0, ['ban', 'sshd', 'tcp', '22', '8.8.8.8', '600'])).code).toBe(0)
    expect((await mesh.hook(2, ['ban', 'nginx-http-auth', 'tcp', '443', '1.1.1.1', '300'])).code).toBe(0)
    expect((await mesh.hook(1, ['ban', 'sshd', 'tcp', '22', '2606:4700::1111', '900'])).code).toBe(0)
    // protected on the metrics service only: a real refused message
    expect((await mesh.hook(1, ['ban', 'web', 'tcp', '443', '198.51.100.7', '0'])).code).toBe(0)
    await page.locator('#total-bans', { hasText: /^6$/ }).waitFor()
    await page.locator('#refused-total', { hasText: /^1$/ }).waitFor()

    expect(await text('#top-asns')).toMatch(/AS13335 Cloudflare, Inc\.\s+2[\s\S]*AS15169 Google LLC\s+1/)
    expect(await text('#top-countries')).toMatch(/US\s+2/)
    const origins = await page.locator('#origins tbody tr').allInnerTexts()
    expect(origins).toHaveLength(3)
    expect(origins.find(r => r.includes(`127.0.0.1:${mesh.nodes[1]!.port}`))).toMatch(/\s2\s+0\s+sshd\s/)
    expect(origins.find(r => r.includes(`127.0.0.1:${mesh.nodes[2]!.port}`))).toMatch(/\s2\s+0\s+(nginx-http-auth|ban)?/)
    // the expiry list is recomputed at most once a second
    await page.locator('#expiring tbody tr').nth(2).waitFor()
    const expiring = await page.locator('#expiring tbody tr').allInnerTexts()
    expect(expiring.map(r => r.split(/\s+/)[0])).toEqual(['1.1.1.1', '8.8.8.8', '2606:4700::1111'])
    expect(expiring[0]).toMatch(/in [45] min/)
    expect(await shown(page.locator('#feed tbody tr').first())).toMatch(/ban\s+sshd\s+2606:4700::1111\s+US\s+\w{3} \d{1,2}/)
    expect(await text('#delay')).toMatch(/^\d+(\.\d)? m?s \/ \d+(\.\d)? m?s$/)
    expect(await text('#refused-reasons')).toMatch(/protected_address\s+1/)
    expect(await text('#refused-recent')).toMatch(/reject protected_address/)
    // the browser's clock and time zone, ticking
    expect(await text('#tz')).toBe('Europe/Berlin (UTC+01:00)')
    const tick = await text('#clock')
    expect(tick).toMatch(/^\d{2}:\d{2}:\d{2}/)
    await page.locator('#clock', { hasNotText: tick }).waitFor()

    await page.fill('#search-ip', '203.0.113.10')
    await page.click('#search button')
    await page.locator('#search-summary', { hasText: '203.0.113.10' }).waitFor()
    expect(await text('#search-summary')).toMatch(/not banned now; 2 events stored/)
    expect(await page.locator('#search-events tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/unban\s+sshd/), expect.stringMatching(/ban\s+sshd\s+permanent\s+never/)])
    await page.fill('#search-ip', '8.8.8.8')
    await page.click('#search button')
    await page.locator('#search-summary', { hasText: '8.8.8.8' }).waitFor()
    expect(await text('#search-summary')).toMatch(/8\.8\.8\.8 — US, AS15169 Google LLC: banned now \(sshd, until .+\); 1 event stored/)
    const logged = problems.length
    await page.fill('#search-ip', 'not-an-address')
    await page.click('#search button')
    await page.locator('#search-summary', { hasText: 'not an IPv4' }).waitFor()
    // chromium logs the expected 400 of that search as a console error: only that one is let through
    problems.push(...problems.splice(logged).filter(p => !p.includes('status of 400')))
    await page.fill('#search-ip', '8.8.8.8')
    await page.click('#search button')
    await page.locator('#search-summary', { hasText: '8.8.8.8' }).waitFor()
    await page.screenshot({ path: join(OUTPUT, 'dashboard-v2.png'), fullPage: true })
  })

  it('builds no markup from mesh data and logs no console errors', async () => {
    // names pass NAME_PATTERN, so markup cannot arrive; check the page builds no elements from data anyway
    const injected = await page.evaluate('document.querySelectorAll("#feed td *, .ranked .key *").length')
    expect(injected).toBe(0)
    expect(problems.join('\n')).toBe('')
  })

  /**
   * What each row's cells say. Not `innerText`: it joins cells with tabs only while a row is rendered, and a row
   * the page was replacing at that moment came back without them (1 of 5 CI runs: same rows, other whitespace).
   */
  const cellTexts = (rows: string) => page.evaluate(`[...document.querySelectorAll(${JSON.stringify(rows)})].map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent))`)

  it('keeps its history across a restart of the metrics service', async () => {
    const before = { bans: await text('#total-bans'), unbans: await text('#total-unbans'), feed: await cellTexts('#feed tbody tr'), asns: await text('#top-asns') }
    expect(before.feed).toHaveLength(7)
    await metrics.restart()
    await page.reload()
    await page.locator('#conn[data-state="live"]').waitFor()
    expect(await text('#total-bans')).toBe(before.bans)
    expect(await text('#total-unbans')).toBe(before.unbans)
    expect(await text('#refused-total')).toBe('1')
    expect(await cellTexts('#feed tbody tr')).toEqual(before.feed)
    expect(await text('#top-asns')).toBe(before.asns)
    expect(await page.locator('#origins tbody tr').count()).toBe(3)
    expect(await chartBans()).toBe(6)
    await page.fill('#search-ip', '203.0.113.10')
    await page.click('#search button')
    await page.locator('#search-summary', { hasText: '2 events stored' }).waitFor()
    expect(metrics.log()).toMatch(/"events":7.*history replayed/)
  })
})
