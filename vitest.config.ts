import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // multi-process tests start real nodes; two cores do not run many meshes at once well
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['verbose']
  }
})
