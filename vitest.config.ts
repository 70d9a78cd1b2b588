import { defineConfig } from 'vitest/config';

// One PostgreSQL per run (embedded, or TEST_DATABASE_URL with EPU_TEST_DB=external);
// every test file gets its own database cloned from a migrated template.
export default defineConfig({
  test: {
    globalSetup: ['tests/support/global-setup.ts'],
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts', 'deploy/**/*.test.ts'],
    exclude: ['tests/e2e/**', 'tests/fuzz/**', '**/node_modules/**', 'infra/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
