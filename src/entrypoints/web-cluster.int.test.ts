import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, queryRows, type TestDatabase } from '../../tests/support/database.js';
import { testEnv } from '../../tests/support/app.js';
import { freePort, spawnEpu, type EpuProcess } from '../../tests/support/process.js';
import { signUp, slowJsonPost } from '../../tests/support/client.js';
import { eventBody, loadUntilClosed } from '../../tests/support/load.js';

// WEB_CONCURRENCY: one `epu web` primary with worker processes sharing its port (docs/decisions/0026-web-concurrency.md).

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

function childPids(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The pids of the request log lines for /livez: which processes answered. */
function livezPids(output: string): number[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"msg":"request"') && line.includes('"path":"/livez"'))
    .map((line) => (JSON.parse(line) as { pid: number }).pid);
}

async function startCluster(overrides: Record<string, string> = {}) {
  const port = await freePort();
  const metricsPort = await freePort();
  const web = spawnEpu(
    ['web'],
    testEnv(database, { PORT: String(port), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info', WEB_CONCURRENCY: '2', ...overrides }),
  );
  await web.waitForLog(/"msg":"web ready"/, 60_000);
  return { web, base: `http://127.0.0.1:${port}`, metrics: `http://127.0.0.1:${metricsPort}/metrics` };
}

/** New connections one after another, so the primary's round-robin hands them to every worker. */
async function requestsOnNewConnections(base: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await fetch(`${base}/livez`, { headers: { connection: 'close' } })).status);
  return statuses;
}

describe('epu web with WEB_CONCURRENCY=2', () => {
  let cluster: { web: EpuProcess; base: string; metrics: string } | undefined;
  afterAll(async () => {
    await cluster?.web.stop('SIGKILL');
  });

  it('runs two web processes on one port, with their metrics summed on the primary', async () => {
    cluster = await startCluster();
    const { web, base, metrics } = cluster;
    const workers = childPids(web.child.pid!);
    expect(workers).toHaveLength(2);
    expect(await requestsOnNewConnections(base, 20)).toEqual(Array(20).fill(200));
    await expect.poll(() => livezPids(web.output()).length).toBe(20);
    expect([...new Set(livezPids(web.output()))].sort()).toEqual([...workers].sort());
    // One scrape of the primary counts the requests of both workers.
    const text = await (await fetch(metrics)).text();
    const livez = [...text.matchAll(/^epu_http_requests_total\{[^}]*route="\/livez"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(livez).toBe(20);
  });

  it('replaces a web process that dies, and keeps serving', async () => {
    const { web, base } = cluster!;
    const [victim, survivor] = childPids(web.child.pid!);
    process.kill(victim!, 'SIGKILL');
    await web.waitForLog(/web process exited; replacing it/);
    await web.waitForLog(/(?:"web process ready"[^\n]*\n[^]*){3}/, 60_000);
    const now = childPids(web.child.pid!);
    expect(now).toHaveLength(2);
    expect(now).toContain(survivor);
    expect(now).not.toContain(victim);
    expect(await requestsOnNewConnections(base, 10)).toEqual(Array(10).fill(200));
  });
});

describe('epu web with WEB_CONCURRENCY=2 under load', () => {
  it('on SIGTERM stops every web process gracefully: accepted requests finish, nothing is lost or half-written, exit 0', async () => {
    const { web, base } = await startCluster({ SHUTDOWN_DRAIN_MS: '1000' });
    const port = Number(new URL(base).port);
    try {
      const { client } = await signUp(base);
      const workers = childPids(web.child.pid!);
      const load = loadUntilClosed(base, client.cookieHeader(), 8);
      // And requests a worker has accepted and is still reading when the signal comes.
      const inFlight = Array.from({ length: 4 }, (_, n) =>
        slowJsonPost(port, '/api/v1/events', eventBody(`Slow ${n}`), client.cookieHeader()),
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const before = load.created.length;
      web.child.kill('SIGTERM');
      await web.waitForLog(/shutting down/);
      for (const request of inFlight) request.finish();
      const slow = await Promise.all(inFlight.map((r) => r.response));
      await load.done;
      const { code } = await web.exited;

      expect(code).toBe(0);
      expect(slow.map((r) => r.status)).toEqual([201, 201, 201, 201]);
      expect(load.failures).toEqual([]);
      expect([...load.ends.keys()].filter((c) => c !== 'ECONNREFUSED' && c !== 'ECONNRESET')).toEqual([]);
      expect(load.created.length).toBeGreaterThan(before); // served through the drain
      // Every request that reached EPU was answered: the database holds exactly the events answered 201.
      const rows = await queryRows<{ count: number }>(
        database.url,
        `SELECT count(*)::int AS count FROM events WHERE title LIKE 'Load %' OR title LIKE 'Slow %'`,
      );
      expect(rows[0]!.count).toBe(load.created.length + slow.length);
      expect(web.output().match(/"msg":"stopped cleanly"/g)).toHaveLength(3); // both workers and the primary
      for (const pid of workers) expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      await web.stop('SIGKILL');
    }
  });
});
