// `npm test` on a laptop with Node and npm only: a tier whose system tool is
// missing is skipped with one line naming the tool and its install command,
// and with EPU_TEST_REQUIRE_ALL=1 (as .ci/run sets) the same run fails. The
// machine here has every tool, so the runs below get a PATH without them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/platform/paths.js';

const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-bare-path-'));
// Node, and `id` for the embedded PostgreSQL as root: nothing else.
for (const name of ['node', 'id']) {
  const found = ['/usr/local/bin', '/usr/bin', '/bin'].map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file));
  fs.symlinkSync(name === 'node' ? process.execPath : found!, path.join(bin, name));
}
afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, args, {
    cwd: packageRoot,
    encoding: 'utf8',
    env: { PATH: bin, HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1', ...env },
    timeout: 300_000,
  });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('npm test on a machine without the system tools', () => {
  it('skips the browser tier with one line naming chromium and its install command, and passes', () => {
    const { code, output } = run(['scripts/test.mjs'], { EPU_TEST_ONLY: 'e2e' });
    expect(code, output).toBe(0);
    const lines = output.split('\n').filter((line) => line.startsWith('skip browser: '));
    expect(lines[0]).toBe('skip browser: browser tests (tests/e2e) need chromium (apt-get install chromium, or set CHROMIUM_PATH)');
    expect(output).toContain('0 passed, 0 failed, 1 skipped');
  });

  it('fails before running anything when EPU_TEST_REQUIRE_ALL=1, naming every missing tool', () => {
    const { code, output } = run(['scripts/test.mjs'], { EPU_TEST_ONLY: 'deploy,e2e', EPU_TEST_REQUIRE_ALL: '1' });
    expect(code, output).toBe(1);
    for (const tool of [
      'kubectl (apt-get install kubernetes-client',
      'promtool (apt-get install prometheus',
      'chromium (apt-get install chromium',
    ]) {
      expect(output).toContain(tool);
    }
    expect(output).toContain('3 tier(s) cannot run and EPU_TEST_REQUIRE_ALL=1');
    expect(output).not.toContain('=== deploy');
  });

  it('skips a test file of a tier whose tool is missing, and fails it when EPU_TEST_REQUIRE_ALL=1', () => {
    const vitest = path.join(packageRoot, 'node_modules', 'vitest', 'vitest.mjs');
    const skipped = run([vitest, 'run', '--project', 'deploy', 'deploy/k8s'], {});
    expect(skipped.code, skipped.output).toBe(0);
    expect(skipped.output).toContain('skip kubernetes: Kubernetes manifests (deploy/k8s) need kubectl (apt-get install kubernetes-client');
    expect(skipped.output).toMatch(/Tests +(\d+) skipped \(\1\)/);

    const required = run([vitest, 'run', '--project', 'deploy', 'deploy/k8s'], { EPU_TEST_REQUIRE_ALL: '1' });
    expect(required.code, required.output).toBe(1);
    expect(required.output).toContain('EPU_TEST_REQUIRE_ALL=1 and a tool is missing: skip kubernetes');
  }, 300_000);
});
