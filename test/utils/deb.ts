import { existsSync } from 'node:fs'
import { run } from './mesh.js'

/**
 * Helpers of the tests that install the fst package into this machine (the `release` vitest project):
 * dpkg with no terminal, the package's dpkg status, and the refusal to touch a real installation.
 */

/** What systemd gives a service: no $FST_CONFIG, no node in a developer's PATH. */
export const SERVICE_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' }

/** Runs dpkg (or apt-get) non-interactively; a failure throws with its output. */
export async function dpkg (args: string[], command = 'dpkg') {
  // stdin closed: a conffile question would fail the call instead of hanging it
  const out = await run(command, args, { input: '', timeout: 180_000, env: { ...SERVICE_ENV, DEBIAN_FRONTEND: 'noninteractive' } })
  if (out.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${out.code}:\n${out.stdout}\n${out.stderr}`)
  return out
}

/** dpkg's status of a package (fst unless named), e.g. `install ok installed`; null when dpkg does not know it. */
export async function packageStatus (name = 'fst'): Promise<string | null> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format syntax
  const out = await run('dpkg-query', ['-W', '-f=${Status}', name])
  // a purged package may linger in dpkg's database as `purge ok not-installed`
  return out.code === 0 && !out.stdout.trim().endsWith(' not-installed') ? out.stdout.trim() : null
}

/** Throws where an fst package or its folders are present already: a real installation is never touched. */
export async function refuseInstalled (): Promise<void> {
  const present = [await packageStatus(), await packageStatus('fst-geoip'), ...['/etc/fst', '/var/lib/fst', '/usr/lib/fst'].filter(p => existsSync(p))].filter(x => x !== null)
  if (present.length > 0) {
    throw new Error(`this test installs and purges the fst package, but this machine has: ${present.join(', ')} (dpkg --purge fst first)`)
  }
}
