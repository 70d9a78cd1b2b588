import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../../tests/support/app.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { freePort, spawnEpu, type EpuProcess } from '../../../tests/support/process.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

/** JSON lines the smoke command printed (its output is not a terminal here). */
function lines(output: string): Array<{ kind: string; message: string; step?: string; ms?: number }> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

describe('epu smoke', () => {
  it('passes against a running web and worker, and removes what it made', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // One environment for both processes: the worker reads the uploads the web wrote.
    const env = testEnv(database, { PORT: String(port), PUBLIC_URL: base });
    const processes: EpuProcess[] = [];
    try {
      const web = spawnEpu(['web'], { ...env, LOG_LEVEL: 'info' });
      processes.push(web);
      const worker = spawnEpu(['worker'], { ...env, LOG_LEVEL: 'info' });
      processes.push(worker);
      await web.waitForLog(/web ready/, 60_000);
      await worker.waitForLog(/worker ready/, 60_000);

      const smoke = spawnEpu(['smoke', '--url', base], {});
      const { code } = await smoke.exited;
      const output = smoke.output();
      expect(code, output).toBe(0);
      const printed = lines(output);
      const steps = printed.filter((l) => l.kind === 'step' && typeof l.ms === 'number').map((l) => l.message);
      expect(steps).toEqual([
        'livez',
        'healthz',
        'meta',
        'signup',
        'create event',
        'book',
        'upload photo',
        'photo ready',
        'fetch thumbnail',
        'delete photo',
        'delete event',
        'delete account',
      ]);
      expect(printed.at(-1)).toMatchObject({ kind: 'result', message: 'smoke test passed' });

      // Nothing it made stays visible: no event left, and the account is gone or signed out.
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const events = await client.query(`SELECT count(*)::int AS n FROM events WHERE title LIKE 'Smoke test%'`);
        expect(events.rows[0].n).toBe(0);
      } finally {
        await client.end();
      }
    } finally {
      await Promise.all(processes.map((p) => p.stop()));
    }
  });

  it('fails with exit 1 naming the step when nothing listens at the URL', async () => {
    const port = await freePort();
    const smoke = spawnEpu(['smoke', '--url', `http://127.0.0.1:${port}`], {});
    const { code } = await smoke.exited;
    expect(code).toBe(1);
    const error = lines(smoke.output()).find((l) => l.kind === 'error');
    expect(error).toMatchObject({ step: 'livez' });
    expect(error!.message).toMatch(/step "livez"/);
    expect(error!.message).toMatch(/ECONNREFUSED/);
  });

  it('refuses to run without a URL', async () => {
    const smoke = spawnEpu(['smoke'], {});
    const { code } = await smoke.exited;
    expect(code).toBe(1);
    expect(smoke.output()).toMatch(/usage: epu smoke --url URL/);
  });
});
