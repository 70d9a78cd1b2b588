// The DATABASE_REPLICA_URL dial. The "replica" is a second database that
// receives no writes, so where a read went shows in what it finds: a row
// written through the app exists only on the primary, a row inserted into the
// replica database only there.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { RECENT_WRITE_COOKIE } from '../http/read-routing.js';

const STICKY_SECONDS = 2;

async function query(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

describe('DATABASE_REPLICA_URL: read-heavy queries on a replica, read-your-writes on the primary', () => {
  let replica: TestDatabase;
  let app: TestApp;
  let replicaOnlyEventId: string;

  const titlesOfList = async (client: Client) => {
    // limit=50: past the cached first page, so every call reads the database.
    const response = await client.get('/api/v1/events?limit=50');
    expect(response.status).toBe(200);
    return (response.body.items as { title: string }[]).map((event) => event.title);
  };
  const health = async () => {
    const response = await new Client(app.url).get('/healthz');
    return { status: response.status, replica: response.body.checks?.replica as string };
  };
  /** Stops the replica taking connections and ends the ones it has, as a replica going down does. */
  const takeReplicaDown = async (down: boolean) => {
    const admin = inject('adminDatabaseUrl');
    await query(admin, `ALTER DATABASE ${replica.name} ALLOW_CONNECTIONS ${down ? 'false' : 'true'}`);
    if (down)
      await query(admin, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
        replica.name,
      ]);
  };

  beforeAll(async () => {
    replica = await createTestDatabase();
    // Where reads go is what is tested here, so no public page cache answers in front of them (decision 0016).
    app = await startTestApp({
      DATABASE_REPLICA_URL: replica.url,
      REPLICA_STICKY_SECONDS: String(STICKY_SECONDS),
      PUBLIC_PAGE_CACHE_SECONDS: '0',
    });
    const { rows } = await query(
      replica.url,
      `INSERT INTO users (email, name, password_hash) VALUES ('replica@example.test', 'Replica host', 'x') RETURNING id`,
    );
    const inserted = await query(
      replica.url,
      `INSERT INTO events (slug, owner_id, title, starts_at, visibility) VALUES ('only-on-the-replica', $1, 'Only on the replica', $2, 'public') RETURNING id`,
      [rows[0].id, futureIso()],
    );
    replicaOnlyEventId = inserted.rows[0].id;
  });

  afterAll(async () => {
    await app?.close();
    await takeReplicaDown(false).catch(() => undefined);
    await replica?.drop();
  });

  it('sends anonymous reads to the replica', async () => {
    const anonymous = new Client(app.url);
    expect(await titlesOfList(anonymous)).toEqual(['Only on the replica']);
    expect((await anonymous.get(`/api/v1/events/${replicaOnlyEventId}`)).body.title).toBe('Only on the replica');
    const page = await anonymous.request('GET', `/events/${replicaOnlyEventId}`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('Only on the replica');
    expect((await anonymous.get(`/api/v1/events/${replicaOnlyEventId}/photos`)).status).toBe(200);
    expect(await health()).toEqual({ status: 200, replica: 'ok' });
  });

  it('reads a writer’s own writes from the primary within REPLICA_STICKY_SECONDS, and from the replica after', async () => {
    const host = await signUp(app.url);
    const created = await host.client.post('/api/v1/events', {
      title: 'Written to the primary',
      startsAt: futureIso(),
      capacity: 5,
      visibility: 'public',
    });
    expect(created.status).toBe(201);
    expect(host.client.cookies.has(RECENT_WRITE_COOKIE)).toBe(true);
    const eventId = created.body.id as string;

    expect((await host.client.get(`/api/v1/events/${eventId}`)).body.title).toBe('Written to the primary');
    expect(await titlesOfList(host.client)).toEqual(['Written to the primary']);
    const anonymous = new Client(app.url);
    expect((await anonymous.get(`/api/v1/events/${eventId}`)).status).toBe(404);
    expect(await titlesOfList(anonymous)).toEqual(['Only on the replica']);

    // Once the window has passed, the writer reads the replica like everyone else.
    await eventually(
      async () => ((await host.client.get(`/api/v1/events/${eventId}`)).status === 404 ? true : undefined),
      20_000,
      'the sticky window to end',
    );
    expect(await titlesOfList(host.client)).toEqual(['Only on the replica']);

    // An update opens the window again.
    expect((await host.client.patch(`/api/v1/events/${eventId}`, { title: 'Updated on the primary' })).status).toBe(200);
    expect((await host.client.get(`/api/v1/events/${eventId}`)).body.title).toBe('Updated on the primary');
  });

  it('checks the session of a signed-in page on the primary, even when the page reads its event from the replica', async () => {
    // The reader's session exists only on the primary; without a recent write, their reads go to the replica.
    const reader = await signUp(app.url);
    reader.client.cookies.delete(RECENT_WRITE_COOKIE);
    const page = await reader.client.request('GET', `/events/${replicaOnlyEventId}`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('Only on the replica');
    expect(page.text).toContain('action="/logout"');
  });

  it('a forged or foreign read-your-writes cookie routes nothing to the primary', async () => {
    const anonymous = new Client(app.url);
    anonymous.cookies.set(RECENT_WRITE_COOKIE, 'forged');
    expect(await titlesOfList(anonymous)).toEqual(['Only on the replica']);
  });

  it('reads from the primary while the replica is down, reports it degraded, and returns to it by itself', async () => {
    await takeReplicaDown(true);
    try {
      const anonymous = new Client(app.url);
      expect(await titlesOfList(anonymous)).toContain('Updated on the primary');
      expect((await anonymous.get('/')).status).toBe(200);
      expect(await health()).toEqual({ status: 200, replica: 'degraded' });
    } finally {
      await takeReplicaDown(false);
    }
    await eventually(async () => ((await health()).replica === 'ok' ? true : undefined), 20_000, 'the replica check to recover');
    await eventually(
      async () => ((await titlesOfList(new Client(app.url))).includes('Only on the replica') ? true : undefined),
      20_000,
      'reads to return to the replica',
    );
  });
});
