// The REDIS_URL dial end to end: two app instances (two web replicas) on one
// database and one redis-server of the test's own, which the test pauses
// (a hung Redis) and stops (a Redis that went away) under the running apps.
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/database.js';
import { startTestRedis, type TestRedis } from '../../../tests/support/redis.js';
import { tierCanRun } from '../../../tests/support/tools.mjs';

/** How often this app answered from the cache named `cache` (epu_cache_requests_total). */
async function cacheHits(app: TestApp, cache: string): Promise<number> {
  const metric = await app.platform.metrics.registry.getSingleMetric('epu_cache_requests_total')!.get();
  return metric.values.find((value) => value.labels.cache === cache && value.labels.result === 'hit')?.value ?? 0;
}

describe.skipIf(!tierCanRun('redis'))('REDIS_URL: shared cache and rate limits, and what happens when Redis hangs or goes away', () => {
  let redis: TestRedis;
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let sql: pg.Client;
  let eventId: string;
  let owner: Awaited<ReturnType<typeof signUp>>;

  /** Changes the event behind the apps' backs: no invalidation, so only an uncached read sees it. */
  const retitleInDatabase = async (title: string) => {
    await sql.query('UPDATE events SET title = $1 WHERE id = $2', [title, eventId]);
  };
  const titleVia = async (app: TestApp) => {
    const response = await new Client(app.url).get(`/api/v1/events/${eventId}`);
    expect(response.status).toBe(200);
    return response.body.title as string;
  };
  const health = async (app: TestApp) => {
    const response = await new Client(app.url).get('/healthz');
    return { status: response.status, redis: response.body.checks?.redis as string };
  };
  /** Five wrong passwords are allowed (401); the sixth attempt is refused (429). */
  const expectLoginThrottled = async (app: TestApp) => {
    const { email } = await signUp(app.url);
    const client = new Client(app.url);
    for (let attempt = 1; attempt <= 5; attempt++) {
      expect((await client.post('/api/v1/auth/login', { email, password: 'wrong password entirely' })).status).toBe(401);
    }
    const refused = await client.post('/api/v1/auth/login', { email, password: 'wrong password entirely' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  };
  /** The shared cache answers again: a read through one app is then served from Redis by the other. */
  const expectCacheInUse = async () => {
    await eventually(
      async () => ((await health(a)).redis === 'ok' && (await health(b)).redis === 'ok' ? true : undefined),
      20_000,
      'Redis reported ok',
    );
    await eventually(
      async () => {
        const hitsBefore = await cacheHits(b, 'event');
        await titleVia(a);
        await titleVia(b);
        return (await cacheHits(b, 'event')) > hitsBefore ? true : undefined;
      },
      20_000,
      'reads served from the shared cache again',
    );
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    database = await createTestDatabase();
    // Above the 100 ms default: a busy test machine must not trip the breaker where the test expects Redis to answer.
    const settings = { REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '500' };
    a = await startTestApp(settings, database);
    b = await startTestApp(settings, database);
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    owner = await signUp(a.url);
    const created = await owner.client.post('/api/v1/events', {
      title: 'Harbour lights',
      startsAt: futureIso(),
      capacity: 10,
      visibility: 'public',
    });
    expect(created.status).toBe(201);
    eventId = created.body.id;
  });

  afterAll(async () => {
    await sql?.end();
    await a?.close();
    await b?.close();
    await redis?.stop();
    await database?.drop();
  });

  it('shares cached reads between instances, and a write through one invalidates them for both', async () => {
    // Both apps connect to Redis in the background as they start.
    for (const app of [a, b])
      await eventually(async () => ((await health(app)).redis === 'ok' ? true : undefined), 20_000, 'Redis connected');
    expect(await titleVia(a)).toBe('Harbour lights');
    await retitleInDatabase('Changed behind the cache');
    const hitsBefore = await cacheHits(b, 'event');
    expect(await titleVia(b)).toBe('Harbour lights');
    expect(await cacheHits(b, 'event')).toBe(hitsBefore + 1);

    expect((await owner.client.patch(`/api/v1/events/${eventId}`, { title: 'Harbour lights, moved' })).status).toBe(200);
    expect(await titleVia(b)).toBe('Harbour lights, moved');

    // A booking changes the booked count that the cached event carries.
    expect((await new Client(b.url).get(`/api/v1/events/${eventId}`)).body.bookedCount).toBe(0);
    const guest = await signUp(b.url);
    expect((await guest.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);
    expect((await new Client(a.url).get(`/api/v1/events/${eventId}`)).body.bookedCount).toBe(1);

    // The anonymous first page of the list is shared too, and invalidated by writes.
    expect((await new Client(a.url).get('/api/v1/events')).body.items.map((event: { title: string }) => event.title)).toEqual([
      'Harbour lights, moved',
    ]);
    expect(
      (await owner.client.post('/api/v1/events', { title: 'Second night', startsAt: futureIso(8), capacity: null, visibility: 'public' }))
        .status,
    ).toBe(201);
    expect((await new Client(b.url).get('/api/v1/events')).body.items.map((event: { title: string }) => event.title)).toEqual([
      'Harbour lights, moved',
      'Second night',
    ]);
  });

  it('counts failed logins in Redis while it is up', async () => {
    const { email } = await signUp(a.url);
    expect((await new Client(a.url).post('/api/v1/auth/login', { email, password: 'wrong password entirely' })).status).toBe(401);
    const direct = new Redis(redis.url);
    try {
      expect(await direct.get(`epu:${database.name}:rl:login-account:${email.toLowerCase()}`)).toBe('1');
    } finally {
      direct.disconnect();
    }
  });

  it('keeps serving while Redis hangs (SIGSTOP): cache bypassed, limits in PostgreSQL, health degraded; recovers on SIGCONT', async () => {
    redis.pause();
    try {
      await retitleInDatabase('Read while Redis hangs');
      expect(await titleVia(a)).toBe('Read while Redis hangs');
      expect(await titleVia(b)).toBe('Read while Redis hangs');
      expect(await health(a)).toEqual({ status: 200, redis: 'degraded' });
      expect((await new Client(a.url).get('/')).status).toBe(200);
      await expectLoginThrottled(a);
    } finally {
      redis.resume();
    }
    await expectCacheInUse();
  });

  it('keeps serving while Redis is down (SIGTERM), and uses it again once a new server listens on the port, without a restart', async () => {
    await redis.stop();
    await retitleInDatabase('Read while Redis is down');
    expect(await titleVia(a)).toBe('Read while Redis is down');
    expect(await titleVia(b)).toBe('Read while Redis is down');
    expect(await health(b)).toEqual({ status: 200, redis: 'degraded' });
    expect((await owner.client.patch(`/api/v1/events/${eventId}`, { venue: 'Pier 4' })).status).toBe(200);
    expect((await new Client(b.url).get(`/api/v1/events/${eventId}`)).body.venue).toBe('Pier 4');
    await expectLoginThrottled(b);

    await redis.start();
    await expectCacheInUse();
  });
});
