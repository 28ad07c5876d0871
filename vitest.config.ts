import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // GPU tests share one software adapter; running files in parallel on 2 cores only slows them.
    fileParallelism: true,
    maxWorkers: 2,
    setupFiles: ['tests/setup-env.ts'],
  },
});
