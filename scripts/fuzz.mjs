#!/usr/bin/env node
// `npm run fuzz -- --runs N [--seed S] [--only TEXT]`: property-based fuzzing of
// every API operation, form and page (tests/fuzz), then a table of answers per
// target and status. Exits non-zero on any failure. `npm test` runs it bounded.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    seed: { type: 'string', default: '20261122' },
    only: { type: 'string' },
  },
});
if (!/^\d+$/.test(values.runs) || !/^\d+$/.test(values.seed)) {
  process.stderr.write('usage: npm run fuzz -- [--runs N] [--seed S] [--only TEXT]\n');
  process.exit(2);
}

const reportFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'epu-fuzz-')), 'report.json');
const run = spawnSync('npx', ['vitest', 'run', '-c', 'vitest.fuzz.config.ts'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    EPU_FUZZ_RUNS: values.runs,
    EPU_FUZZ_SEED: values.seed,
    EPU_FUZZ_REPORT: reportFile,
    ...(values.only ? { EPU_FUZZ_ONLY: values.only } : {}),
  },
});

if (fs.existsSync(reportFile)) {
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  const statuses = [...new Set(Object.values(report.counts).flatMap((byStatus) => Object.keys(byStatus)))].sort();
  const width = Math.max(...Object.keys(report.counts).map((target) => target.length), 6);
  const line = (cells) => cells.map((cell, i) => (i === 0 ? String(cell).padEnd(width) : String(cell).padStart(6))).join(' ');
  const out = [
    `\nfuzz: ${report.runs} runs per target, seed ${report.seed}, ${report.seconds} s`,
    line(['target', ...statuses, 'total', 's']),
  ];
  let total = 0;
  for (const [target, byStatus] of Object.entries(report.counts)) {
    const sum = Object.values(byStatus).reduce((a, b) => a + b, 0);
    total += sum;
    out.push(line([target, ...statuses.map((status) => byStatus[status] ?? ''), sum, Math.round(report.targetSeconds[target] ?? 0)]));
  }
  out.push(`${total} requests, ${report.failures.length} failures`);
  if (report.undiscoveredForms.length)
    out.push(`form routes no crawled page showed (fuzzed with hostile fields only): ${report.undiscoveredForms.join(', ')}`);
  for (const failure of report.failures.slice(0, 50))
    out.push(`FAIL ${failure.target} as ${failure.role}: ${failure.problems.join('; ')}\n     ${failure.request}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
process.exit(run.status ?? 1);
