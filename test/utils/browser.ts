import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'

/** Debian's chromium package: playwright never downloads a browser here. */
export const CHROMIUM = process.env.FST_CHROMIUM ?? '/usr/bin/chromium'

/**
 * Headless Debian chromium with a fresh profile in a temp dir and everything that phones home turned off.
 * `close()` removes the profile. `timezoneId` sets the page's time zone (e.g. `Europe/Berlin`).
 */
export async function launchBrowser (options: { timezoneId?: string } = {}): Promise<{ context: BrowserContext, close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'fst-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ...options,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'
    ]
  })
  return {
    context,
    close: async () => {
      await context.close().catch(() => {})
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
