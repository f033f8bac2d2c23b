import { defineConfig } from 'vitest/config'

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
      { extends: true, test: { name: 'system', include: ['test/**/*.test.ts'] } }
    ]
  }
})
