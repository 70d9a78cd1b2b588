// Every long-running role reports its own health on its operations port
// (METRICS_PORT): what the container HEALTHCHECK (bin/healthcheck.js), the
// compose file and the Kubernetes probes ask. Each role runs as a real process
// against a real PostgreSQL reached through a proxy, so the test can take the
// database away and bring it back.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../tests/support/app.js';
import { createTestDatabase, type TestDatabase } from '../../tests/support/database.js';
import { freePort, spawnEpu, type EpuProcess } from '../../tests/support/process.js';
import { startTcpProxy, type TcpProxy } from '../../tests/support/tcp-proxy.js';
import { packageRoot } from '../platform/paths.js';

interface Answer {
  status: number;
  body: { status: string; checks: Record<string, string> };
}

let database: TestDatabase;
let proxy: TcpProxy;
let proxiedUrl: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const url = new URL(database.url);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
  url.port = String(proxy.port);
  proxiedUrl = url.href;
});
afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

async function health(port: number, path = '/healthz'): Promise<Answer | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  } catch {
    return null;
  }
}

/** Asks until the answer has `status` (roles reach their state in their own time); fails with the last answer. */
async function healthUntil(role: EpuProcess, port: number, status: number): Promise<Answer> {
  let last: Answer | null = null;
  for (let attempt = 0; attempt < 300; attempt++) {
    if (role.child.exitCode !== null) throw new Error(`exited (${role.child.exitCode}):\n${role.output().slice(-3000)}`);
    last = await health(port);
    if (last?.status === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`/healthz never answered ${status}; last: ${JSON.stringify(last)}\n${role.output().slice(-3000)}`);
}

/** The container HEALTHCHECK itself: its exit code and what it prints. */
function healthcheck(metricsPort: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(packageRoot, 'bin/healthcheck.js')], {
      env: { PATH: process.env.PATH ?? '', METRICS_PORT: String(metricsPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe.each([
  { role: 'web', ready: /web ready/, own: 'database' },
  { role: 'worker', ready: /worker ready/, own: 'heartbeat' },
  { role: 'functions', ready: /functions ready/, own: 'database' },
])('epu $role on its operations port', ({ role, ready, own }) => {
  it('is healthy with its database, unhealthy without it, healthy again when it is back; /livez stays 200', async () => {
    const metricsPort = await freePort();
    const env = testEnv(database, {
      DATABASE_URL: proxiedUrl,
      PORT: String(await freePort()),
      FUNCTIONS_PORT: String(await freePort()),
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'info',
    });
    const epu = spawnEpu([role], env);
    try {
      await epu.waitForLog(ready);
      const healthy = await healthUntil(epu, metricsPort, 200);
      expect(healthy.body.status).toBe('ok');
      expect(healthy.body.checks[own]).toBe('ok');
      const probe = await healthcheck(metricsPort);
      expect(probe.code, probe.output).toBe(0);

      await proxy.cut();
      const unhealthy = await healthUntil(epu, metricsPort, 503);
      expect(unhealthy.body.status).toBe('failing');
      expect(unhealthy.body.checks.database).toMatch(/^failing/);
      const failed = await healthcheck(metricsPort);
      expect(failed.code).toBe(1);
      expect(failed.output).toMatch(/^503 .*database/);
      // Alive all along: a missing database is no reason to restart the process.
      expect((await health(metricsPort, '/livez'))?.status).toBe(200);

      await proxy.restore();
      expect((await healthUntil(epu, metricsPort, 200)).body.status).toBe('ok');
      expect((await epu.stop()).code).toBe(0);
    } finally {
      await proxy.restore().catch(() => undefined);
      await epu.stop('SIGKILL');
    }
  });
});

describe('bin/healthcheck.js', () => {
  it('fails when nothing answers on METRICS_PORT (a one-shot command, or a process that is gone)', async () => {
    const probe = await healthcheck(await freePort());
    expect(probe.code).toBe(1);
    expect(probe.output).toMatch(/^no answer on METRICS_PORT \d+: /);
  });
});
