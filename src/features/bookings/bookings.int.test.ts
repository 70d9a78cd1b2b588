import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { createSessionCookies, SESSION_COOKIE } from '../../platform/http/cookies.js';
import { hashPassword } from '../accounts/passwords.js';
import { recordStatements } from '../../../tests/support/statements.js';
import { signedInBooker } from './bookings.service.js';
import { EVENT_PAGES } from '../events/events.service.js';

const statementsDuring = recordStatements();
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ DATABASE_POOL_MAX: '40' });
});
afterAll(() => t.close());

async function createEvent(client: Client, capacity: number | null, visibility = 'public') {
  const response = await client.post('/api/v1/events', { title: 'Hot event', startsAt: futureIso(2), capacity, visibility });
  expect(response.status).toBe(201);
  return response.body as { id: string };
}

/** Many signed-in users without paying for one argon2 hash each: rows and sessions made directly. */
async function manyUsers(count: number): Promise<Client[]> {
  const hash = await hashPassword('irrelevant password');
  const { rows } = await t.platform.pool.query<{ id: string }>(
    `INSERT INTO users (email, name, password_hash) SELECT 'bulk-' || gen_random_uuid() || '@example.test', 'Bulk ' || n, $1 FROM generate_series(1, $2) AS n RETURNING id`,
    [hash, count],
  );
  const cookies = createSessionCookies(t.platform.keyring, false);
  const sessions = await t.platform.pool.query<{ id: string; user_id: string }>(
    `INSERT INTO sessions (user_id, expires_at) SELECT unnest($1::uuid[]), now() + interval '1 day' RETURNING id, user_id`,
    [rows.map((row) => row.id)],
  );
  return sessions.rows.map((session) => {
    let sealed = '';
    cookies.write(
      { setCookie: (_name: string, value: string) => (sealed = value) } as never,
      { sid: session.id, uid: session.user_id },
      3600,
    );
    const client = new Client(t.url);
    client.cookies.set(SESSION_COOKIE, sealed);
    return client;
  });
}

describe('bookings', () => {
  it('books in one statement that also checks the session and the event: no other round trip, its audit row written by it', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 5);
    const [guest] = await manyUsers(1);
    let booked: { status: number; body: { booking: { id: string } } } | undefined;
    const statements = await statementsDuring(async () => {
      booked = await guest!.post(`/api/v1/events/${event.id}/bookings`);
    });
    expect(booked!.status).toBe(201);
    // Nothing notifies inside it: the wake-ups and announcements leave afterwards, as the notifier's batches (decision 0027).
    const writes = statements.filter((text) => /^(BEGIN|COMMIT|insert|update|delete|WITH)/i.test(text));
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/FROM sessions.*INSERT INTO bookings.*INSERT INTO audit_log/);
    expect(writes[0]).not.toMatch(/pg_notify|NOTIFY/i);
    expect(statements).toHaveLength(1);
    const { rows } = await t.platform.pool.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'booking.create' AND subject_id = $1`,
      [booked!.body.booking.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('books nothing for a session that is no longer live: revoked, expired, or its account deleted (401, no booking, no audit row)', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 5);
    const [revoked, expired, deleted] = await manyUsers(3);
    const userOf = async (client: Client) => (await client.get('/api/v1/me')).body.user.id as string;
    const ids = { revoked: await userOf(revoked!), expired: await userOf(expired!), deleted: await userOf(deleted!) };
    await t.platform.pool.query('UPDATE sessions SET revoked_at = now() WHERE user_id = $1', [ids.revoked]);
    await t.platform.pool.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1", [ids.expired]);
    await t.platform.pool.query('UPDATE users SET deleted_at = now() WHERE id = $1', [ids.deleted]);
    for (const client of [revoked!, expired!, deleted!]) {
      const refused = await client.post(`/api/v1/events/${event.id}/bookings`);
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('not_signed_in');
    }
    const written = async () =>
      (
        await t.platform.pool.query(
          `SELECT (SELECT count(*)::int FROM bookings WHERE event_id = $1) AS bookings,
             (SELECT count(*)::int FROM event_places WHERE event_id = $1 AND booking_id IS NOT NULL) AS places,
             (SELECT count(*)::int FROM audit_log WHERE metadata ->> 'eventId' = $1::text AND action = 'booking.create') AS audited`,
          [event.id],
        )
      ).rows[0];
    expect(await written()).toEqual({ bookings: 0, places: 0, audited: 0 });
    expect((await new Client(t.url).post(`/api/v1/events/${event.id}/bookings`)).status).toBe(401);
    // A live session books, and the same query sees all three.
    expect((await owner.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    expect(await written()).toEqual({ bookings: 1, places: 1, audited: 1 });
  });

  it('never exceeds capacity: 200 concurrent bookings from 200 users at a 50-place event confirm exactly 50', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 50);
    const users = await manyUsers(200);
    const responses = await Promise.all(users.map((client) => client.post(`/api/v1/events/${event.id}/bookings`)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(50);
    expect(statuses.filter((s) => s === 409)).toHaveLength(150);
    expect(responses.filter((r) => r.status === 409).every((r) => r.body.error.code === 'event_full')).toBe(true);
    const read = await owner.client.get(`/api/v1/events/${event.id}`);
    expect(read.body.bookedCount).toBe(50);
    const { rows } = await t.platform.pool.query(`SELECT count(*)::int AS n FROM bookings WHERE event_id = $1 AND status = 'confirmed'`, [
      event.id,
    ]);
    expect(rows[0].n).toBe(50);
    const places = await t.platform.pool.query(
      `SELECT count(*)::int AS n FROM event_places WHERE event_id = $1 AND booking_id IS NOT NULL`,
      [event.id],
    );
    expect(places.rows[0].n).toBe(50);
  });

  it('returns the existing booking (200) on a re-book, even when sent twice at once', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 5);
    const guest = await signUp(t.url);
    const [a, b] = await Promise.all([
      guest.client.post(`/api/v1/events/${event.id}/bookings`),
      guest.client.post(`/api/v1/events/${event.id}/bookings`),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(a.body.booking.id).toBe(b.body.booking.id);
    expect(a.body.booking.status).toBe('confirmed');
    const again = await guest.client.post(`/api/v1/events/${event.id}/bookings`);
    expect(again.status).toBe(200);
    expect(again.body.booking.id).toBe(a.body.booking.id);
    expect((await owner.client.get(`/api/v1/events/${event.id}`)).body.bookedCount).toBe(1);
  });

  it('cancelling frees the place for someone else', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 1);
    const first = await signUp(t.url);
    const second = await signUp(t.url);
    expect((await first.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    expect((await second.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(409);
    expect((await first.client.delete(`/api/v1/events/${event.id}/bookings/me`)).status).toBe(204);
    expect((await second.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    expect((await first.client.post(`/api/v1/events/${event.id}/bookings`)).body.error.code).toBe('event_full');
  });

  it('answers a booking without waiting for the change bus to carry its page announcement (decision 0055)', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 5);
    const [guest] = await manyUsers(1);
    // A stalled bus (a publish that does not settle until the end) stands for one whose batch is waiting out its window.
    const publish = t.platform.bus.publish;
    const announced: string[] = [];
    let release = () => {};
    t.platform.bus.publish = async (_channel, message) => {
      announced.push(message);
      await new Promise<void>((resolve) => (release = resolve));
    };
    try {
      const booked = await guest!.post(`/api/v1/events/${event.id}/bookings`);
      expect(booked.status).toBe(201);
      // Its announcement still goes to the bus (after whatever was already on its way there).
      await expect.poll(() => announced.flatMap((message) => JSON.parse(message).tags)).toContain(EVENT_PAGES.event(event.id));
    } finally {
      t.platform.bus.publish = publish;
      release();
    }
  }, 15_000);

  describe('when every free place is held by a booking still in flight', () => {
    /** Another user's booking, begun and holding the event's only free place until `finish`. */
    async function bookingInFlight(eventId: string) {
      const other = await signUp(t.url);
      const client = await t.platform.pool.connect();
      await client.query('BEGIN');
      const { rows } = await client.query<{ place_no: number }>(
        'SELECT place_no FROM event_places WHERE event_id = $1 AND booking_id IS NULL ORDER BY place_no LIMIT 1 FOR UPDATE',
        [eventId],
      );
      const booking = await client.query<{ id: string }>(
        `INSERT INTO bookings (event_id, user_id, status) VALUES ($1, $2, 'confirmed') RETURNING id`,
        [eventId, other.user.id],
      );
      await client.query('UPDATE event_places SET booking_id = $1 WHERE event_id = $2 AND place_no = $3', [
        booking.rows[0]!.id,
        eventId,
        rows[0]!.place_no,
      ]);
      return {
        async finish(outcome: 'COMMIT' | 'ROLLBACK') {
          await client.query(outcome);
          client.release();
        },
      };
    }

    /** Resolves once a booking statement waits on a lock: the booking under test is queued behind the one in flight. */
    async function waitingOnPlaceLock() {
      for (let attempt = 0; attempt < 200; attempt++) {
        const { rows } = await t.platform.pool.query(
          // By the booking statement's start: pg_stat_activity keeps only its first 1 KiB (track_activity_query_size).
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH booker AS MATERIALIZED%'`,
        );
        if (rows.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error('no booking ever waited on the place lock');
    }

    /** A guest books the event's only place while another booking holds it, which then ends with `outcome`. */
    async function bookBehindInFlight(outcome: 'COMMIT' | 'ROLLBACK') {
      const owner = await signUp(t.url);
      const event = await createEvent(owner.client, 1);
      const inFlight = await bookingInFlight(event.id);
      const guest = await signUp(t.url);
      const pending = guest.client.post(`/api/v1/events/${event.id}/bookings`);
      await waitingOnPlaceLock();
      await inFlight.finish(outcome);
      return { event, guest, response: await pending };
    }

    it('waits for it, and takes the place when that booking rolls back', async () => {
      const { event, guest, response } = await bookBehindInFlight('ROLLBACK');
      expect(response.status).toBe(201);
      const { rows } = await t.platform.pool.query(
        `SELECT b.user_id FROM event_places p JOIN bookings b ON b.id = p.booking_id WHERE p.event_id = $1 AND b.status = 'confirmed'`,
        [event.id],
      );
      expect(rows).toEqual([{ user_id: guest.user.id }]);
    });

    it('waits for it, and answers event_full when that booking commits', async () => {
      const { event, response } = await bookBehindInFlight('COMMIT');
      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('event_full');
      const { rows } = await t.platform.pool.query(`SELECT count(*)::int AS n FROM bookings WHERE event_id = $1 AND status = 'confirmed'`, [
        event.id,
      ]);
      expect(rows[0].n).toBe(1);
    });
  });

  it('closes bookings once the event has started: 409 booking_closed to book or to cancel, in the API and on the page', async () => {
    const owner = await signUp(t.url);
    const startsAt = new Date(Date.now() + 2_000).toISOString();
    const created = await owner.client.post('/api/v1/events', { title: 'Starting soon', startsAt, capacity: 5, visibility: 'public' });
    expect(created.status).toBe(201);
    const eventId = created.body.id as string;
    const early = await signUp(t.url);
    expect((await early.client.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(startsAt) - Date.now()) + 100));
    const late = await signUp(t.url);
    const refused = await late.client.post(`/api/v1/events/${eventId}/bookings`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('booking_closed');
    const cancel = await early.client.delete(`/api/v1/events/${eventId}/bookings/me`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('booking_closed');

    const form = await late.client.request('POST', `/events/${eventId}/book`, { form: {} });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe(`/events/${eventId}?notice=closed`);
    const page = await late.client.get(form.headers.get('location')!, { accept: 'text/html' });
    expect(page.text).toContain('Bookings are closed: the event has started.');

    const read = await owner.client.get(`/api/v1/events/${eventId}`);
    expect(read.body.bookedCount).toBe(1);
  });

  it('books a private event only for its host, an admin or someone already booked (404 for others, as for reading it)', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 5, 'unlisted');
    const [attendee, stranger] = await manyUsers(2);
    expect((await attendee!.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    expect((await owner.client.patch(`/api/v1/events/${event.id}`, { visibility: 'private' })).status).toBe(200);
    const refused = await stranger!.post(`/api/v1/events/${event.id}/bookings`);
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('not_found');
    expect((await attendee!.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(200);
    const admin = await signUp(t.url);
    await t.services.accounts.setRole(admin.user.id, 'admin');
    await admin.client.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
    expect((await admin.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    expect((await owner.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    // Another spelling of the id is no id.
    expect((await stranger!.post(`/api/v1/events/${event.id.toUpperCase()}/bookings`)).status).toBe(404);
  });

  it('refuses a booking in the statement itself when the event started after it was read', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 3);
    const guest = await signUp(t.url);
    // Started since it was last shown: the statement itself refuses (and tells a missing event apart).
    const result = await t.platform.pool.query("UPDATE events SET starts_at = now() - interval '1 minute' WHERE id = $1", [event.id]);
    expect(result.rowCount).toBe(1);
    const { createBookingsRepository } = await import('./bookings.repository.js');
    const repo = createBookingsRepository(t.platform.db);
    const booker = signedInBooker({ id: guest.user.id, role: 'user' });
    expect(await repo.book(event.id, booker)).toEqual({ kind: 'closed' });
    expect(await repo.book('00000000-0000-4000-8000-000000000000', booker)).toEqual({ kind: 'gone' });
  });

  it('keeps the booked count in the booking transaction: bookings, cancellations, re-bookings and deletions', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 10);
    const users = await manyUsers(6);
    await Promise.all(users.map((client) => client.post(`/api/v1/events/${event.id}/bookings`)));
    await users[0]!.delete(`/api/v1/events/${event.id}/bookings/me`);
    await users[1]!.delete(`/api/v1/events/${event.id}/bookings/me`);
    expect((await users[1]!.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);
    // A booking deleted outright (retention, a cascade from its user) leaves the count too.
    await t.platform.pool.query(
      `DELETE FROM bookings WHERE id = (SELECT id FROM bookings WHERE event_id = $1 AND status = 'confirmed' ORDER BY created_at LIMIT 1)`,
      [event.id],
    );
    const counted = await t.platform.pool.query<{ stripes: number; booked: number; actual: number }>(
      `SELECT (SELECT count(*)::int FROM event_booking_counts WHERE event_id = $1) AS stripes,
         (SELECT sum(booked)::int FROM event_booking_counts WHERE event_id = $1) AS booked,
         (SELECT count(*)::int FROM bookings WHERE event_id = $1 AND status = 'confirmed') AS actual`,
      [event.id],
    );
    expect(counted.rows[0]!.actual).toBe(4);
    expect(counted.rows[0]!.booked).toBe(4);
    expect(counted.rows[0]!.stripes).toBeGreaterThanOrEqual(1);
    expect((await owner.client.get(`/api/v1/events/${event.id}`)).body.bookedCount).toBe(4);
    // Deleting the event takes its counts with it.
    expect((await owner.client.delete(`/api/v1/events/${event.id}`)).status).toBe(204);
    const left = await t.platform.pool.query(`SELECT count(*)::int AS n FROM event_booking_counts WHERE event_id = $1`, [event.id]);
    expect(left.rows[0]!.n).toBe(0);
  });

  it('books events without a limit', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, null);
    const users = await manyUsers(30);
    const responses = await Promise.all(users.map((c) => c.post(`/api/v1/events/${event.id}/bookings`)));
    expect(responses.every((r) => r.status === 201)).toBe(true);
    expect((await owner.client.get(`/api/v1/events/${event.id}`)).body.bookedCount).toBe(30);
  });

  it('lists an event’s bookings for the owner only, and the caller’s own bookings', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 10);
    const guest = await signUp(t.url, { name: 'Guest Person' });
    await guest.client.post(`/api/v1/events/${event.id}/bookings`);
    const list = await owner.client.get(`/api/v1/events/${event.id}/bookings`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0].user).toEqual({ id: guest.user.id, name: 'Guest Person' });
    expect(list.body.nextCursor).toBeNull();
    expect((await guest.client.get(`/api/v1/events/${event.id}/bookings`)).status).toBe(403);
    const mine = await guest.client.get('/api/v1/me/bookings');
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((b: { eventId: string }) => b.eventId)).toEqual([event.id]);
    expect((await new Client(t.url).get('/api/v1/me/bookings')).status).toBe(401);
  });
});
