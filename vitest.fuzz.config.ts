import { defineConfig } from 'vitest/config';

// The fuzz tier (tests/fuzz): one long test against a real EPU on its own
// PostgreSQL; run by scripts/fuzz.mjs (`npm run fuzz`, and bounded in `npm test`).
export default defineConfig({
  test: {
    globalSetup: ['tests/support/global-setup.ts'],
    include: ['tests/fuzz/**/*.fuzz.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default'],
  },
});
