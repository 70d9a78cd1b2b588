import { defineConfig } from 'vitest/config';

// Three projects, three tiers (run one with `--project NAME`):
//   unit    `*.test.ts` in src/ and tests/: no database, no processes; seconds (`npm run test:unit`)
//   int     `*.int.test.ts` in src/ and tests/: real PostgreSQL, Redis, S3, processes
//   deploy  deploy/**: manifests, rules and workflows, checked with their tools
//   image   deploy/image/: the container image, built and run with Podman (`npm run test:image` builds it first)
// One PostgreSQL per run of a project that needs it (embedded, or TEST_DATABASE_URL
// with EPU_TEST_DB=external); every test file gets its own database cloned from a
// migrated template. Browser tests have their own config (vitest.e2e.config.ts).
const withDatabase = ['tests/support/global-setup.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'tests/e2e/**', 'tests/fuzz/**', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'int',
          globalSetup: withDatabase,
          include: ['src/**/*.int.test.ts', 'tests/**/*.int.test.ts'],
          exclude: ['tests/e2e/**', 'tests/fuzz/**', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'deploy',
          globalSetup: withDatabase,
          include: ['deploy/**/*.test.ts'],
          exclude: ['deploy/image/**', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        // One file, one image, one machine's containers: in order, one at a time.
        test: { name: 'image', include: ['deploy/image/**/*.test.ts'], fileParallelism: false, testTimeout: 300_000 },
      },
    ],
  },
});
