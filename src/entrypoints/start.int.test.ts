// `epu start` as a user runs it: one process tree on embedded defaults, with
// background work at a lower CPU priority than the web, stopped by one SIGTERM.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../../tests/support/app.js';
import { freePort, runEpu, spawnEpu, type EpuProcess } from '../../tests/support/process.js';
import { NODE_RUNTIME_OPTIONS } from '../platform/node-runtime.js';
import { BACKGROUND_NICENESS } from './start.js';

let supervisor: EpuProcess | undefined;
afterAll(async () => {
  await supervisor?.stop();
});

/** The direct children of `pid`, with their epu command and niceness, from /proc. */
function childrenOf(pid: number): { pid: number; role: string; nice: number }[] {
  const found = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== pid) continue;
      const args = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const bin = args.findIndex((arg) => arg.endsWith(path.join('bin', 'epu.js')));
      if (bin >= 0) found.push({ pid: Number(name), role: args[bin + 1]!, nice: Number(fields[16]) });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

describe('epu start', () => {
  it('runs web (a process per core), worker and functions, the background ones at a lower priority, and stops them all on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-start-'));
    fs.chmodSync(dataDir, 0o755); // as root, the embedded PostgreSQL runs as another user
    const port = await freePort();
    supervisor = spawnEpu(['start'], {
      APP_ENV: 'development',
      EPU_DATA_DIR: dataDir,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      METRICS_PORT: '0',
      FUNCTIONS_PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    });
    const pid = supervisor.child.pid!;
    await eventually(
      async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200 ? true : undefined),
      120_000,
      'epu start to be healthy',
    );

    const children = childrenOf(pid);
    expect(children.map((child) => child.role).sort()).toEqual(['functions', 'web', 'worker']);
    const niceness = Object.fromEntries(children.map((child) => [child.role, child.nice]));
    expect(niceness).toEqual({ web: 0, worker: BACKGROUND_NICENESS, functions: BACKGROUND_NICENESS });
    // On a developer's machine the web runs a process per core (WEB_CONCURRENCY unset), below its primary.
    const cores = os.availableParallelism();
    const web = children.find((child) => child.role === 'web')!;
    const webProcesses =
      cores > 1
        ? await eventually(
            async () => (childrenOf(web.pid).length === cores ? childrenOf(web.pid) : undefined),
            60_000,
            'a web process per core',
          )
        : [];
    expect(webProcesses.every((child) => child.role === 'web')).toBe(true);
    // Every process runs with EPU's young generation (node-runtime.ts), the cluster's web processes included.
    for (const child of [...children, ...webProcesses]) expect(nodeOptionsOf(child.pid), child.role).toContain(NODE_RUNTIME_OPTIONS);

    const exit = await supervisor.stop('SIGTERM');
    supervisor = undefined;
    expect(exit.code).toBe(0);
    for (const child of [...children, ...webProcesses]) expect(isRunning(child.pid), `${child.role} still running`).toBe(false);
  }, 180_000);
});

describe('epu start refuses clashing ports', () => {
  it('exits 1 with one line naming both settings, before starting anything', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-start-'));
    const base = await freePort();
    const run = await runEpu(['start'], {
      APP_ENV: 'development',
      EPU_DATA_DIR: dataDir,
      PORT: String(await freePort()),
      METRICS_PORT: String(base),
      FUNCTIONS_PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(base + 2), // the functions process's metrics port
    });
    expect(run.code).toBe(1);
    expect(run.output).toContain(`METRICS_PORT+2 (functions) and EMBEDDED_PG_PORT are both port ${base + 2}`);
    expect(fs.existsSync(path.join(dataDir, 'pg'))).toBe(false);
  });
});

/** A process that has exited but not been reaped yet (a zombie, state Z) has stopped too. */
/** NODE_OPTIONS in a process's environment, from /proc. */
function nodeOptionsOf(pid: number): string | undefined {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return entries.find((entry) => entry.startsWith('NODE_OPTIONS='))?.slice('NODE_OPTIONS='.length);
}

function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
