import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const newEvent = (overrides: Record<string, unknown> = {}) => ({
  title: 'Summer meetup',
  description: 'Bring friends',
  venue: 'The park',
  startsAt: futureIso(3),
  capacity: 10,
  visibility: 'public',
  ...overrides,
});

describe('events API', () => {
  it('creates an event with every contract field and reads it back', async () => {
    const { client, user } = await signUp(t.url, { name: 'Olive' });
    const created = await client.post('/api/v1/events', newEvent({ endsAt: futureIso(4) }));
    expect(created.status).toBe(201);
    const event = created.body;
    expect(Object.keys(event).sort()).toEqual(
      [
        'bookedCount',
        'capacity',
        'cover',
        'createdAt',
        'description',
        'endsAt',
        'id',
        'owner',
        'slug',
        'startsAt',
        'timeZone',
        'title',
        'updatedAt',
        'venue',
        'visibility',
      ].sort(),
    );
    expect(event).toMatchObject({
      title: 'Summer meetup',
      capacity: 10,
      bookedCount: 0,
      visibility: 'public',
      cover: null,
      owner: { id: user.id, name: 'Olive' },
    });
    expect(event.slug).toMatch(/^summer-meetup-[0-9a-f]{8}$/);
    const read = await new Client(t.url).get(`/api/v1/events/${event.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(event);
  });

  it('needs a session to create', async () => {
    const response = await new Client(t.url).post('/api/v1/events', newEvent());
    expect(response.status).toBe(401);
    expect(response.body.error.code).toBe('not_signed_in');
  });

  it('lists upcoming public events and the caller’s own, keyset-paginated without gaps or repeats', async () => {
    const { client, user } = await signUp(t.url);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const response = await client.post(
        '/api/v1/events',
        newEvent({ title: `Paged ${i}`, startsAt: futureIso(100 + i), visibility: i === 3 ? 'private' : 'public' }),
      );
      ids.push(response.body.id);
    }
    const past = await client.post(
      '/api/v1/events',
      newEvent({ title: 'Past', startsAt: new Date(Date.now() - 86_400_000).toISOString() }),
    );
    expect(past.status).toBe(201);

    const collect = async (c: Client) => {
      const seen: any[] = [];
      let cursor: string | null = null;
      do {
        const response: any = await c.get(`/api/v1/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.status).toBe(200);
        expect(response.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...response.body.items);
        cursor = response.body.nextCursor;
      } while (cursor);
      return seen;
    };
    const mine = (await collect(client)).filter((e) => e.owner.id === user.id);
    expect(mine.map((e) => e.id)).toEqual(ids);
    const anonymous = (await collect(new Client(t.url))).filter((e) => e.owner.id === user.id);
    expect(anonymous.map((e) => e.id)).toEqual(ids.filter((_, i) => i !== 3));
    expect(anonymous.some((e) => e.title === 'Past')).toBe(false);
  });

  it('hides a private event (404) from anyone who neither owns nor booked it; admins see it', async () => {
    const owner = await signUp(t.url);
    const stranger = await signUp(t.url);
    const { body: event } = await owner.client.post('/api/v1/events', newEvent({ visibility: 'private' }));
    expect((await stranger.client.get(`/api/v1/events/${event.id}`)).status).toBe(404);
    expect((await new Client(t.url).get(`/api/v1/events/${event.id}`)).status).toBe(404);
    expect((await owner.client.get(`/api/v1/events/${event.id}`)).status).toBe(200);
    expect((await stranger.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(404);
    const admin = await signUp(t.url);
    await t.services.accounts.setRole(admin.user.id, 'admin');
    await admin.client.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
    expect((await admin.client.get(`/api/v1/events/${event.id}`)).status).toBe(200);
  });

  it('lets a booked attendee see a private event', async () => {
    const owner = await signUp(t.url);
    const { body: event } = await owner.client.post('/api/v1/events', newEvent({ visibility: 'unlisted' }));
    const guest = await signUp(t.url);
    expect((await guest.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    await owner.client.patch(`/api/v1/events/${event.id}`, { visibility: 'private' });
    expect((await guest.client.get(`/api/v1/events/${event.id}`)).status).toBe(200);
  });

  it('updates and deletes for the owner only; others get 403, or 404 when they cannot see it', async () => {
    const owner = await signUp(t.url);
    const other = await signUp(t.url);
    const { body: event } = await owner.client.post('/api/v1/events', newEvent());
    const forbidden = await other.client.patch(`/api/v1/events/${event.id}`, { title: 'Hijacked' });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
    expect((await other.client.delete(`/api/v1/events/${event.id}`)).status).toBe(403);
    const updated = await owner.client.patch(`/api/v1/events/${event.id}`, { title: 'Renamed', capacity: 20 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ title: 'Renamed', capacity: 20 });
    expect(Date.parse(updated.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(event.updatedAt));
    expect((await owner.client.delete(`/api/v1/events/${event.id}`)).status).toBe(204);
    expect((await owner.client.get(`/api/v1/events/${event.id}`)).status).toBe(404);
    const { body: hidden } = await owner.client.post('/api/v1/events', newEvent({ visibility: 'private' }));
    expect((await other.client.patch(`/api/v1/events/${hidden.id}`, { title: 'x' })).status).toBe(404);
  });

  it('removes the files of a photo that becomes ready while its event is being deleted (no orphan left; found by the fuzz tier)', async () => {
    const owner = await signUp(t.url);
    const { body: event } = await owner.client.post('/api/v1/events', newEvent());
    const original = 'originals/2026/12/0e9c5e4e-0000-4000-8000-00000000d001.jpg';
    const thumbnail = 'derived/2026/12/0e9c5e4e-0000-4000-8000-00000000d002.webp';
    for (const key of [original, thumbnail]) await t.platform.storage.put(key, Buffer.from('x'), { contentType: 'image/jpeg' });
    const {
      rows: [photo],
    } = await t.platform.pool.query<{ id: string }>(
      `INSERT INTO photos (event_id, uploader_id, status, original_key, content_type, bytes) VALUES ($1, $2, 'processing', $3, 'image/jpeg', 1) RETURNING id`,
      [event.id, owner.user.id, original],
    );
    // The worker marks the photo ready (its thumbnail stored) in a transaction still open when the delete starts.
    const worker = await t.platform.pool.connect();
    try {
      await worker.query('BEGIN');
      await worker.query(`UPDATE photos SET status = 'ready', thumbnail_key = $2 WHERE id = $1`, [photo!.id, thumbnail]);
      const deleting = owner.client.delete(`/api/v1/events/${event.id}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await worker.query('COMMIT');
      expect((await deleting).status).toBe(204);
    } finally {
      worker.release();
    }
    expect(await t.platform.storage.head(original)).toBeNull();
    expect(await t.platform.storage.head(thumbnail)).toBeNull();
  });

  it('refuses to lower capacity below the places booked (409) and rebuilds places when raised', async () => {
    const owner = await signUp(t.url);
    const { body: event } = await owner.client.post('/api/v1/events', newEvent({ capacity: 2 }));
    for (let i = 0; i < 2; i++) expect((await (await signUp(t.url)).client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    const lower = await owner.client.patch(`/api/v1/events/${event.id}`, { capacity: 1 });
    expect(lower.status).toBe(409);
    expect(lower.body.error.code).toBe('capacity_below_bookings');
    expect((await (await signUp(t.url)).client.post(`/api/v1/events/${event.id}/bookings`)).body.error.code).toBe('event_full');
    expect((await owner.client.patch(`/api/v1/events/${event.id}`, { capacity: 3 })).status).toBe(200);
    expect((await (await signUp(t.url)).client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    expect((await (await signUp(t.url)).client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(409);
    const unlimited = await owner.client.patch(`/api/v1/events/${event.id}`, { capacity: null });
    expect(unlimited.body).toMatchObject({ capacity: null, bookedCount: 3 });
    expect((await (await signUp(t.url)).client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
  });
});

describe('bad input to events', () => {
  let client: Client;
  beforeAll(async () => {
    client = (await signUp(t.url)).client;
  });

  it.each([
    ['a missing title', { startsAt: futureIso(), capacity: null, visibility: 'public' }],
    ['a missing start', { title: 'x', capacity: null, visibility: 'public' }],
    ['a capacity of the wrong type', { title: 'x', startsAt: futureIso(), capacity: '10', visibility: 'public' }],
    ['a negative capacity', { title: 'x', startsAt: futureIso(), capacity: -1, visibility: 'public' }],
    ['an unknown visibility', { title: 'x', startsAt: futureIso(), capacity: null, visibility: 'secret' }],
    ['an unknown field', { title: 'x', startsAt: futureIso(), capacity: null, visibility: 'public', ownerId: 'someone' }],
    ['a start that is not a date', { title: 'x', startsAt: 'tomorrow', capacity: null, visibility: 'public' }],
    ['an end before the start', { title: 'x', startsAt: futureIso(5), endsAt: futureIso(4), capacity: null, visibility: 'public' }],
    ['a 50 kB title', { title: 'x'.repeat(50 * 1024), startsAt: futureIso(), capacity: null, visibility: 'public' }],
  ])('refuses %s with 400 validation_failed and stores nothing', async (_label, body) => {
    const before = await t.platform.pool.query('SELECT count(*)::int AS n FROM events');
    const response = await client.post('/api/v1/events', body);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_failed');
    const after = await t.platform.pool.query('SELECT count(*)::int AS n FROM events');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('refuses an empty PATCH, a bad limit and a forged cursor', async () => {
    const { body: event } = await client.post('/api/v1/events', newEvent());
    expect((await client.patch(`/api/v1/events/${event.id}`, {})).status).toBe(400);
    expect((await client.get('/api/v1/events?limit=0')).status).toBe(400);
    expect((await client.get('/api/v1/events?limit=101')).status).toBe(400);
    const cursor = await client.get('/api/v1/events?cursor=not-a-cursor');
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.code).toBe('invalid_cursor');
  });

  it('answers 404 for ids that are not ids, never a database error', async () => {
    for (const id of ['nope', "1' OR '1'='1", '00000000-0000-0000-0000-000000000000']) {
      const response = await client.get(`/api/v1/events/${encodeURIComponent(id)}`);
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('not_found');
    }
  });

  it('stores SQL metacharacters and markup unchanged, and the page renders them escaped', async () => {
    const title = `Robert'); DROP TABLE events;-- <script>alert("x")</script>`;
    const description = `"quotes" \\backslash\\ $1 %s \u0000-free ünïcödé 🎉`.replace('\u0000', '');
    const { body: event, status } = await client.post('/api/v1/events', newEvent({ title, description }));
    expect(status).toBe(201);
    const read = await client.get(`/api/v1/events/${event.id}`);
    expect(read.body.title).toBe(title);
    expect(read.body.description).toBe(description);
    const page = await client.get(`/events/${event.id}`, { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<script>alert');
    expect(page.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  });
});
