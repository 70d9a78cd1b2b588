#!/usr/bin/env node
// `npm test`: every kind of test, in the order a failure is cheapest to find.
// The same script runs on a laptop and in CI (.ci/run only installs what it needs).
//   EPU_TEST_ONLY=unit,tests,deploy,...   run a subset (step names below)
//   TEST_DATABASE_URL=postgres://...      also run the database tests against that server
//   EPU_TEST_REQUIRE_ALL=1                a missing system tool fails the run instead of
//                                         skipping its tier (CI sets it; tests/support/tools.mjs)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { TIERS, requireAll, skipLine } from '../tests/support/tools.mjs';

const STEPS = [
  'build',
  'format',
  'typecheck',
  'architecture',
  'lint',
  'migrations',
  'unit',
  'tests',
  'tests-external-pg',
  'fuzz',
  'deploy',
  'e2e',
  'image',
  'infra',
];
const only = process.env.EPU_TEST_ONLY?.split(',').map((s) => s.trim());
const unknown = only?.filter((name) => !STEPS.includes(name)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`EPU_TEST_ONLY: no step ${unknown.join(', ')}; the steps are ${STEPS.join(', ')}\n`);
  process.exit(2);
}
const selected = (name) => !only || only.includes(name);
const results = [];

// Tiers that need a system tool this machine lacks: one line each, up front.
const skips = Object.entries(TIERS)
  .filter(([, tier]) => selected(tier.step) || (tier.step === 'tests' && selected('tests-external-pg')))
  .map(([name]) => [name, skipLine(name)])
  .filter(([, line]) => line);
for (const [, line] of skips) process.stdout.write(`${requireAll() ? 'missing (EPU_TEST_REQUIRE_ALL=1): ' : ''}${line}\n`);
if (requireAll() && skips.length > 0) {
  process.stdout.write(`\n${skips.length} tier(s) cannot run and EPU_TEST_REQUIRE_ALL=1: install the tools above\n`);
  process.exit(1);
}
const missingTier = (name) => skips.some(([tier]) => tier === name);

function step(name, command, args, options = {}) {
  if (!selected(name)) return;
  const started = Date.now();
  process.stdout.write(`\n=== ${name}: ${command} ${args.join(' ')}\n`);
  const run = spawnSync(command, args, {
    stdio: 'inherit',
    // The skip lines are printed above, once: the test files need not repeat them.
    env: { ...process.env, EPU_TEST_SKIPS_REPORTED: '1', ...options.env },
    cwd: options.cwd,
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  results.push({ name, ok: run.status === 0, seconds });
  if (run.status !== 0) {
    summary();
    process.stdout.write(`\n${name} failed (exit ${run.status ?? run.signal ?? run.error?.message})\n`);
    process.exit(1);
  }
}

function summary() {
  process.stdout.write('\n=== summary\n');
  for (const r of results) process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(17)} ${r.seconds}s\n`);
  for (const [, line] of skips) process.stdout.write(`${line}\n`);
  const passed = results.filter((r) => r.ok).length;
  process.stdout.write(`${passed} passed, ${results.length - passed} failed${skips.length ? `, ${skips.length} skipped` : ''}\n`);
}

const npx = 'npx';
step('build', 'npm', ['run', 'build', '--silent']);
step('format', npx, ['prettier', '--check', '--log-level', 'warn', '.']);
step('typecheck', npx, ['tsc', '-p', 'tsconfig.json', '--noEmit']);
// The layering of docs/architecture.md: dependency-cruiser's rules and who reads process.env.
step('architecture', 'node', ['scripts/check-architecture.mjs']);
// ESLint with the type-checked rules (tools/lint; installs itself on first use).
step('lint', 'node', ['scripts/lint.mjs']);
step('migrations', npx, [
  'squawk',
  '--config',
  '.squawk.toml',
  ...fs
    .readdirSync('migrations')
    .filter((f) => f.endsWith('.sql'))
    .map((f) => `migrations/${f}`),
]);
step('unit', npx, ['vitest', 'run', '--project', 'unit']);
step('tests', npx, ['vitest', 'run', '--project', 'int']);
if (process.env.TEST_DATABASE_URL) {
  step('tests-external-pg', npx, ['vitest', 'run', '--project', 'int', '--project', 'deploy', '.int.test.ts'], {
    env: { EPU_TEST_DB: 'external' },
  });
}
// Hostile input against every operation, form and page, seeded and bounded (about a minute); `npm run fuzz -- --runs N` runs longer.
step('fuzz', 'node', ['scripts/fuzz.mjs', '--runs', '12']);
step('deploy', npx, ['vitest', 'run', '--project', 'deploy']);
// Every browser test needs chromium: without it the step would only start a database for nothing.
if (!missingTier('browser')) step('e2e', npx, ['vitest', 'run', '-c', 'vitest.e2e.config.ts']);
// The Dockerfile built with Podman, every role run from the image, then the compose stack (root; about 5.5
// minutes warm, 8.5 cold; .ci/run builds the images in the background first: test-image.mjs --prepare).
if (!missingTier('image')) step('image', 'node', ['scripts/test-image.mjs']);
if (fs.existsSync('infra/package.json')) {
  step('infra', 'sh', ['-c', 'npm ci --silent --no-audit --no-fund && npm test'], { cwd: 'infra' });
}
summary();
