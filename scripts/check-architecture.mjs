#!/usr/bin/env node
// The `architecture` step of `npm test`: the rules of docs/architecture.md, checked.
//  1. Imports: dependency-cruiser with .dependency-cruiser.cjs (features, platform, app.ts, config).
//  2. process.env: only src/config reads it, except the files the rule file lists with a reason.
//     Reading the environment is not an import, so this looks at the source text of src/ (tests aside).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const RULES = '.dependency-cruiser.cjs';
let failed = false;

const cruise = spawnSync('npx', ['depcruise', '--config', RULES, 'src'], { cwd: root, stdio: 'inherit' });
if (cruise.status !== 0) failed = true;

// `process.env`, `process['env']` and `{ env } = process`.
const READS_ENV = /\bprocess\s*(?:\.\s*env\b|\[\s*['"`]env['"`]\s*\])|\}\s*=\s*process\b/;
const readers = createRequire(import.meta.url)(path.join(root, RULES)).processEnvReaders;
const found = new Set();
for (const file of fs.readdirSync(path.join(root, 'src'), { recursive: true }).map((f) => `src/${f}`)) {
  if (!file.endsWith('.ts') || file.endsWith('.test.ts') || file.startsWith('src/config/')) continue;
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!READS_ENV.test(line)) return;
    found.add(file);
    if (readers[file]) return;
    process.stdout.write(
      `  error process-env: ${file}:${i + 1} reads the environment; only src/config does (parse it into Config there)\n`,
    );
    failed = true;
  });
}
for (const file of Object.keys(readers)) {
  if (found.has(file)) continue;
  process.stdout.write(`  error process-env: ${RULES} lists ${file} as reading process.env, and it no longer does: remove the exception\n`);
  failed = true;
}
if (!failed) process.stdout.write(`✔ process.env read only in src/config and ${Object.keys(readers).length} listed exception(s)\n`);
process.exit(failed ? 1 : 0);
