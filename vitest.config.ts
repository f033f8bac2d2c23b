import { configDefaults, defineConfig } from 'vitest/config'

/** The tests of the built packages (packages.setup.ts builds them once); two install the fst package into this machine. */
const RELEASE_FILES = ['test/release/deb.test.ts', 'test/release/deb-upgrade.test.ts', 'test/release/packages.test.ts', 'test/release/rpm.test.ts', 'test/release/arm64.test.ts']

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // multi-process tests start real nodes; two cores do not run many meshes at once well
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['verbose'],
    projects: [
      // in-process, no root, no network namespaces: `pnpm test:unit`
      { extends: true, test: { name: 'unit', include: ['packages/*/test/**/*.test.ts'] } },
      // real processes, namespaces, fail2ban, nftables, a browser (as root): `pnpm test:system`
      { extends: true, test: { name: 'system', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...RELEASE_FILES] } },
      // installs the .deb into this machine (/etc/fst, /usr/bin/fst): run on its own, after the others, so no
      // other test sees an installed /etc/fst/config.yml: `pnpm test:release`. Its files install into the same
      // places, so one at a time; the current checkout's .deb is built once for them (packages.setup.ts)
      { extends: true, test: { name: 'release', include: RELEASE_FILES, fileParallelism: false, globalSetup: ['test/release/packages.setup.ts'] } }
    ]
  }
})
