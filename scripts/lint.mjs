#!/usr/bin/env node
// `npm run lint`: ESLint with typescript-eslint's type-checked rules (tools/lint/eslint.config.js).
// ESLint lives in tools/lint with its own install: typescript-eslint needs TypeScript 6, the project
// builds with 7, and one node_modules cannot hold both. This installs it when its lock file changed,
// then lints; arguments go to ESLint (`npm run lint -- --fix`, `npm run lint -- src/app.ts`).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const tool = path.join(root, 'tools', 'lint');
const stamp = path.join(tool, 'node_modules', '.epu-lock-sha256');
const lock = crypto
  .createHash('sha256')
  .update(fs.readFileSync(path.join(tool, 'package-lock.json')))
  .digest('hex');

function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== lock) {
  process.stdout.write('lint: installing ESLint in tools/lint\n');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: tool });
  fs.writeFileSync(stamp, lock);
}
const args = process.argv.slice(2);
run(
  process.execPath,
  [path.join(tool, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--max-warnings', '0', ...(args.length ? args : ['.'])],
  {
    cwd: root,
  },
);
