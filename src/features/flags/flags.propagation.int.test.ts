import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisAnswers } from '../../../tests/support/redis.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { testEnv } from '../../../tests/support/app.js';
import { Client } from '../../../tests/support/client.js';
import { freePort, spawnEpu, type EpuProcess } from '../../../tests/support/process.js';

// Real `epu web` processes on one database: a change made through one is seen
// by the other within 5 s, over LISTEN/NOTIFY and over Redis pub/sub.

const REDIS_URL = 'redis://127.0.0.1:6379';
const COUNTERS = /<ul class="counters" aria-label="Counters">/;
const PASSWORD = 'admin password 1';

const redisUp = await redisAnswers(6379);

let database: TestDatabase;
const adminEmail = `flags-admin-${Date.now()}@example.test`;
const running: EpuProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const create = spawnEpu(['admin', 'create', '--email', adminEmail], { ...testEnv(database), EPU_ADMIN_PASSWORD: PASSWORD });
  const { code } = await create.exited;
  if (code !== 0) throw new Error(`epu admin create failed:\n${create.output()}`);
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  await database.drop();
});

async function startWeb(overrides: Record<string, string> = {}): Promise<{ base: string; process: EpuProcess }> {
  const port = await freePort();
  const web = spawnEpu(['web'], testEnv(database, { PORT: String(port), LOG_LEVEL: 'info', ...overrides }));
  running.push(web);
  await web.waitForLog(/web ready/);
  return { base: `http://127.0.0.1:${port}`, process: web };
}

async function signInAdmin(base: string): Promise<Client> {
  const client = new Client(base);
  const login = await client.post('/api/v1/auth/login', { email: adminEmail, password: PASSWORD });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  return client;
}

const showsCounters = async (base: string) => COUNTERS.test((await new Client(base).get('/', { accept: 'text/html' })).text);

/** Polls `base`'s home page until the counters are `wanted`; the elapsed milliseconds. */
async function waitForCounters(base: string, wanted: boolean, limitMs = 5_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs + 1_000) {
    if ((await showsCounters(base)) === wanted) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the counters did not ${wanted ? 'appear' : 'disappear'} on ${base}`);
}

async function flipAndWatch(a: string, b: string): Promise<void> {
  const admin = await signInAdmin(a);
  expect(await showsCounters(b)).toBe(true);
  const off = await admin.request('PUT', '/api/v1/admin/flags/home.counters', { json: { enabled: false, rolloutPercentage: 100 } });
  expect(off.status).toBe(200);
  expect(await showsCounters(a)).toBe(false); // the writer's own copy changes at once
  expect(await waitForCounters(b, false)).toBeLessThan(5_000);
  const on = await admin.request('PUT', '/api/v1/admin/flags/home.counters', { json: { enabled: true, rolloutPercentage: 100 } });
  expect(on.status).toBe(200);
  expect(await waitForCounters(b, true)).toBeLessThan(5_000);
}

describe('flag changes reach every replica', () => {
  it('within 5 s over PostgreSQL LISTEN/NOTIFY', async () => {
    const [a, b] = await Promise.all([startWeb(), startWeb()]);
    await flipAndWatch(a.base, b.base);
    // The listening connection closes with the process: both stop cleanly.
    expect((await Promise.all([a.process.stop(), b.process.stop()])).map((e) => e.code)).toEqual([0, 0]);
  });

  it('again after the listening connection is killed', async () => {
    const [a, b] = await Promise.all([startWeb(), startWeb()]);
    const admin = new (await import('pg')).default.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const { rowCount } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'epu-bus' AND datname = current_database()`,
      );
      expect(rowCount).toBeGreaterThanOrEqual(2);
    } finally {
      await admin.end();
    }
    await b.process.waitForLog(/change notifications restored/, 10_000);
    await flipAndWatch(a.base, b.base);
    await Promise.all([a.process.stop(), b.process.stop()]);
  });

  it.skipIf(!redisUp)('within 5 s over Redis pub/sub when REDIS_URL is set', async () => {
    const [a, b] = await Promise.all([startWeb({ REDIS_URL }), startWeb({ REDIS_URL })]);
    await flipAndWatch(a.base, b.base);
    expect((await Promise.all([a.process.stop(), b.process.stop()])).map((e) => e.code)).toEqual([0, 0]);
  });

  it('still stores a change when REDIS_URL points at a closed port', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const a = await startWeb({ REDIS_URL: closed });
    const admin = await signInAdmin(a.base);
    const started = Date.now();
    const response = await admin.request('PUT', '/api/v1/admin/flags/redis.down', { json: { enabled: true, rolloutPercentage: 100 } });
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect((await admin.get('/api/v1/admin/flags/redis.down')).body.enabled).toBe(true);
    expect((await new Client(a.base).get('/healthz')).status).toBe(200);
    await a.process.waitForLog(/could not announce a flag change/);
    expect((await a.process.stop()).code).toBe(0);
  });
});

describe('epu flags', () => {
  const run = async (args: string[]) => {
    const cli = spawnEpu(['flags', ...args], testEnv(database));
    const { code } = await cli.exited;
    const lines = cli.output().trim().split('\n').filter(Boolean);
    return {
      code,
      lines,
      json: lines.flatMap((line) => {
        try {
          return [JSON.parse(line)];
        } catch {
          return [];
        }
      }),
      output: cli.output(),
    };
  };

  it('sets, lists and reports stale flags in JSON lines, and running processes see its changes', async () => {
    const web = await startWeb();
    const set = await run(['set', 'cli.made', '--enabled', 'true', '--rollout', '40']);
    expect(set.code).toBe(0);
    expect(set.json.at(-1)).toMatchObject({
      command: 'flags',
      kind: 'result',
      message: 'flag created',
      name: 'cli.made',
      enabled: true,
      rolloutPercentage: 40,
      state: 'partial',
    });

    const list = await run(['list']);
    expect(list.code).toBe(0);
    expect(list.json.find((l) => l.name === 'cli.made')).toMatchObject({ kind: 'step', rolloutPercentage: 40 });
    expect(list.json.at(-1)).toMatchObject({ kind: 'result' });

    // Seen by a running web process at once: the CLI announces its change.
    const admin = await signInAdmin(web.base);
    expect(await showsCounters(web.base)).toBe(true);
    const off = await run(['set', 'home.counters', '--enabled', 'false']);
    expect(off.code).toBe(0);
    expect(await waitForCounters(web.base, false)).toBeLessThan(5_000);
    expect((await admin.get('/api/v1/admin/flags/home.counters')).body.updatedBy).toBeNull();
    expect((await run(['set', 'home.counters', '--enabled', 'true'])).code).toBe(0);

    const pg = (await import('pg')).default;
    const sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    await sql.query(`UPDATE feature_flags SET state_since = now() - interval '31 days' WHERE name = 'photos.uploads'`);
    await sql.end();
    const stale = await run(['stale']);
    expect(stale.code).toBe(0);
    expect(stale.json.filter((l) => l.kind === 'step').map((l) => l.name)).toEqual(['photos.uploads']);
    expect(stale.json.at(-1)).toMatchObject({ kind: 'result', count: 1, days: 30 });
    await web.process.stop();
  });

  it('fails with a one-line reason on bad input', async () => {
    const badName = await run(['set', 'Bad Name', '--enabled', 'true']);
    expect(badName.code).toBe(1);
    expect(badName.output).toMatch(/flag name/);
    const badRollout = await run(['set', 'ok.name', '--enabled', 'true', '--rollout', '101']);
    expect(badRollout.code).toBe(1);
    expect(badRollout.output).toContain('--rollout must be a whole number from 0 to 100');
    const noEnabled = await run(['set', 'ok.name']);
    expect(noEnabled.code).toBe(1);
    expect(noEnabled.output).toContain('--enabled true|false is required');
    // A usage error: refused before anything starts, exit 2 (CONTRACT: non-zero with a one-line reason).
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.json, unknown.output).toEqual([
      expect.objectContaining({
        kind: 'error',
        exitCode: 2,
        message: expect.stringMatching(/^unknown subcommand "frobnicate"; usage: epu flags /),
      }),
    ]);
  });
});
