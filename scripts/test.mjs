#!/usr/bin/env node
// `npm test`: every kind of test, in the order a failure is cheapest to find.
// The same script runs on a laptop and in CI (.ci/run only installs what it needs).
//   EPU_TEST_ONLY=unit,int,e2e,...   run a subset (names below)
//   TEST_DATABASE_URL=postgres://... also run the database tests against that server
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const only = process.env.EPU_TEST_ONLY?.split(',').map((s) => s.trim());
const results = [];

function step(name, command, args, options = {}) {
  if (only && !only.includes(name)) return;
  const started = Date.now();
  process.stdout.write(`\n=== ${name}: ${command} ${args.join(' ')}\n`);
  const run = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...options.env }, cwd: options.cwd });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  results.push({ name, ok: run.status === 0, seconds });
  if (run.status !== 0) {
    summary();
    process.stdout.write(`\n${name} failed (exit ${run.status ?? run.signal})\n`);
    process.exit(1);
  }
}

function summary() {
  process.stdout.write('\n=== summary\n');
  for (const r of results) process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(14)} ${r.seconds}s\n`);
  const passed = results.filter((r) => r.ok).length;
  process.stdout.write(`${passed} passed, ${results.length - passed} failed\n`);
}

const npx = 'npx';
step('build', 'npm', ['run', 'build', '--silent']);
step('format', npx, ['prettier', '--check', '--log-level', 'warn', '.']);
step('typecheck', npx, ['tsc', '-p', 'tsconfig.json', '--noEmit']);
step('migrations', npx, [
  'squawk',
  '--config',
  '.squawk.toml',
  ...fs
    .readdirSync('migrations')
    .filter((f) => f.endsWith('.sql'))
    .map((f) => `migrations/${f}`),
]);
step('tests', npx, ['vitest', 'run']);
if (process.env.TEST_DATABASE_URL) {
  step('tests-external-pg', npx, ['vitest', 'run', '.int.test.ts'], { env: { EPU_TEST_DB: 'external' } });
}
step('e2e', npx, ['vitest', 'run', '-c', 'vitest.e2e.config.ts']);
if (fs.existsSync('infra/package.json')) {
  step('infra', 'sh', ['-c', 'npm ci --silent --no-audit --no-fund && npm test'], { cwd: 'infra' });
}
summary();
