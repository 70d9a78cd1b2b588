import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp, type Response } from '../../../tests/support/client.js';
import type { AuditAction } from './audit.types.js';

// Every audited action and its audit entry commit in one transaction: a
// functions.deliver job (the outbox) for most actions, the audit row itself
// for bookings (decision 0047). The faults here are real: a constraint added
// to the test database makes one insert fail inside that transaction, and the
// action must then leave nothing behind. No worker runs, so every audit job
// the app wrote is still in the jobs table to be counted.

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

async function one<T = Record<string, any>>(text: string, params: unknown[] = []): Promise<T> {
  return (await t.platform.pool.query(text, params)).rows[0] as T;
}

/** Runs `work` while `table` refuses any new row version for which `allowed` is false (NOT VALID: existing rows are not checked). */
async function refusing<T>(table: 'jobs' | 'sessions' | 'audit_log', allowed: string, work: () => Promise<T>): Promise<T> {
  const name = `test_refuse_${crypto.randomBytes(4).toString('hex')}`;
  await t.platform.pool.query(`ALTER TABLE ${table} ADD CONSTRAINT ${name} CHECK (${allowed}) NOT VALID`);
  try {
    return await work();
  } finally {
    await t.platform.pool.query(`ALTER TABLE ${table} DROP CONSTRAINT ${name}`);
  }
}

/** The audit entry of `action` cannot be stored while `work` runs; every other job can. */
const refusingAudit = <T>(action: AuditAction, work: () => Promise<T>) =>
  refusing('jobs', `payload #>> '{event,data,action}' IS DISTINCT FROM '${action}'`, work);

/** The audit row of `action` cannot be written while `work` runs (bookings write theirs with the booking). */
const refusingAuditRow = <T>(action: AuditAction, work: () => Promise<T>) =>
  refusing('audit_log', `action IS DISTINCT FROM '${action}'`, work);

/** Audit rows of `action` on `subjectId`. */
const auditRows = async (action: AuditAction, subjectId: string): Promise<number> =>
  (await one<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = $1 AND subject_id = $2`, [action, subjectId])).n;

/** Audit entries waiting in the outbox for `action` (on `subjectId`, when given). */
async function auditJobs(action: AuditAction, subjectId?: string): Promise<number> {
  const row = await one<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE name = 'functions.deliver'
       AND payload #>> '{event,type}' = 'com.epu.audit.v1'
       AND payload #>> '{event,data,action}' = $1
       AND ($2::text IS NULL OR payload #>> '{event,data,subjectId}' = $2)`,
    [action, subjectId ?? null],
  );
  return row.n;
}

/** A plain 500: the error code, no stack trace, nothing about the database. */
function expectInternalError(response: Response): void {
  expect(response.status).toBe(500);
  expect(response.body.error.code).toBe('internal_error');
  expect(response.text).not.toMatch(/\n\s+at |\.(js|ts):\d+/);
  expect(response.text).not.toMatch(/test_refuse|constraint|jobs|sessions/i);
}

async function createEvent(client: Client, capacity: number | null, title = 'Atomic event') {
  const response = await client.post('/api/v1/events', { title, startsAt: futureIso(3), capacity, visibility: 'public' });
  expect(response.status).toBe(201);
  return response.body as { id: string; title: string; capacity: number | null; updatedAt: string };
}

const sessionsOf = async (userId: string) =>
  (await one<{ n: number }>(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1`, [userId])).n;
const uniqueEmail = () => `atomic-${crypto.randomUUID()}@example.test`;

describe('accounts: the write and its audit entry commit together', () => {
  it('signup: a refused audit entry leaves no account; the same email then signs up, audited exactly once', async () => {
    const email = uniqueEmail();
    const refused = await refusingAudit('user.signup', () =>
      new Client(t.url).post('/api/v1/auth/signup', { email, password: 'long enough pw', name: 'Atomic' }),
    );
    expectInternalError(refused);
    expect((await one(`SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)`, [email])).n).toBe(0);

    const client = new Client(t.url);
    const signedUp = await client.post('/api/v1/auth/signup', { email, password: 'long enough pw', name: 'Atomic' });
    expect(signedUp.status).toBe(201);
    expect(await auditJobs('user.signup', signedUp.body.user.id)).toBe(1);
    expect((await client.get('/api/v1/me')).status).toBe(200);
  });

  it('signup: a refused session leaves neither the account nor its audit entry', async () => {
    const email = uniqueEmail();
    const before = await auditJobs('user.signup');
    const refused = await refusing('sessions', 'false', () =>
      new Client(t.url).post('/api/v1/auth/signup', { email, password: 'long enough pw', name: 'Atomic' }),
    );
    expectInternalError(refused);
    expect((await one(`SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)`, [email])).n).toBe(0);
    expect(await auditJobs('user.signup')).toBe(before);
  });

  it('login: the session and the user.login entry are stored together or not at all, once per login', async () => {
    const { user, email, password } = await signUp(t.url);
    const sessions = await sessionsOf(user.id);

    expectInternalError(await refusingAudit('user.login', () => new Client(t.url).post('/api/v1/auth/login', { email, password })));
    expect(await sessionsOf(user.id)).toBe(sessions);

    expectInternalError(await refusing('sessions', 'false', () => new Client(t.url).post('/api/v1/auth/login', { email, password })));
    expect(await auditJobs('user.login', user.id)).toBe(0);

    const client = new Client(t.url);
    expect((await client.post('/api/v1/auth/login', { email, password })).status).toBe(200);
    expect(await sessionsOf(user.id)).toBe(sessions + 1);
    expect(await auditJobs('user.login', user.id)).toBe(1);
    expect((await client.get('/api/v1/me')).status).toBe(200);
  });

  it('role change: a refused audit entry leaves the role and the sessions as they were; a change is audited once', async () => {
    const { user, client } = await signUp(t.url);
    await expect(refusingAudit('user.role_change', () => t.services.accounts.setRole(user.id, 'admin'))).rejects.toThrow();
    expect((await one(`SELECT role FROM users WHERE id = $1`, [user.id])).role).toBe('user');
    expect((await client.get('/api/v1/me')).status).toBe(200);
    expect(await auditJobs('user.role_change', user.id)).toBe(0);

    await t.services.accounts.setRole(user.id, 'admin');
    expect((await one(`SELECT role FROM users WHERE id = $1`, [user.id])).role).toBe('admin');
    expect((await client.get('/api/v1/me')).status).toBe(401);
    expect(await auditJobs('user.role_change', user.id)).toBe(1);
  });

  it('password change: a refused audit entry or session leaves the password and every session as they were; a change is audited once', async () => {
    const { user, client, password } = await signUp(t.url);
    const hashBefore = (await one(`SELECT password_hash FROM users WHERE id = $1`, [user.id])).password_hash;
    const sessions = await sessionsOf(user.id);
    const change = () => client.post('/api/v1/me/password', { currentPassword: password, newPassword: 'a changed password' });

    expectInternalError(await refusingAudit('user.password_change', change));
    expectInternalError(await refusing('sessions', 'false', change));
    expect((await one(`SELECT password_hash FROM users WHERE id = $1`, [user.id])).password_hash).toBe(hashBefore);
    expect(await sessionsOf(user.id)).toBe(sessions);
    expect((await client.get('/api/v1/me')).status).toBe(200);
    expect(await auditJobs('user.password_change', user.id)).toBe(0);

    expect((await change()).status).toBe(200);
    expect((await one(`SELECT password_hash FROM users WHERE id = $1`, [user.id])).password_hash).not.toBe(hashBefore);
    expect(await auditJobs('user.password_change', user.id)).toBe(1);
    expect((await client.get('/api/v1/me')).status).toBe(200);
  });

  it('epu admin create: a refused audit entry creates no admin and promotes no one; each outcome is audited once', async () => {
    const email = uniqueEmail();
    await expect(
      refusingAudit('user.role_change', () => t.services.accounts.createOrPromoteAdmin({ email, password: 'admin password 1' })),
    ).rejects.toThrow();
    expect((await one(`SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)`, [email])).n).toBe(0);
    const created = await t.services.accounts.createOrPromoteAdmin({ email, password: 'admin password 1' });
    expect(created.created).toBe(true);
    expect(await auditJobs('user.role_change', created.user.id)).toBe(1);

    const existing = await signUp(t.url);
    const hashBefore = (await one(`SELECT password_hash FROM users WHERE id = $1`, [existing.user.id])).password_hash;
    await expect(
      refusingAudit('user.role_change', () =>
        t.services.accounts.createOrPromoteAdmin({ email: existing.email, password: 'admin password 2' }),
      ),
    ).rejects.toThrow();
    const after = await one(`SELECT role, password_hash FROM users WHERE id = $1`, [existing.user.id]);
    expect(after).toEqual({ role: 'user', password_hash: hashBefore });
    expect((await existing.client.get('/api/v1/me')).status).toBe(200);
    const promoted = await t.services.accounts.createOrPromoteAdmin({ email: existing.email, password: 'admin password 2' });
    expect(promoted).toMatchObject({ created: false, user: { id: existing.user.id, role: 'admin' } });
    expect(await auditJobs('user.role_change', existing.user.id)).toBe(1);
  });
});

describe('events: the write and its audit entry commit together', () => {
  it('create: a refused audit entry leaves no event and no places; a creation is audited once', async () => {
    const owner = await signUp(t.url);
    const title = `Never created ${crypto.randomUUID()}`;
    const refused = await refusingAudit('event.create', () =>
      owner.client.post('/api/v1/events', { title, startsAt: futureIso(3), capacity: 4, visibility: 'public' }),
    );
    expectInternalError(refused);
    expect((await one(`SELECT count(*)::int AS n FROM events WHERE title = $1`, [title])).n).toBe(0);
    expect(
      (await one(`SELECT count(*)::int AS n FROM event_places p WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = p.event_id)`)).n,
    ).toBe(0);

    const event = await createEvent(owner.client, 4, title);
    expect(await auditJobs('event.create', event.id)).toBe(1);
  });

  it('update: a refused audit entry leaves the event and its places unchanged; an update is audited once', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 3);
    const refused = await refusingAudit('event.update', () =>
      owner.client.patch(`/api/v1/events/${event.id}`, { title: 'Renamed', capacity: 6 }),
    );
    expectInternalError(refused);
    const row = await one(`SELECT title, capacity, updated_at FROM events WHERE id = $1`, [event.id]);
    expect({ title: row.title, capacity: row.capacity, updatedAt: row.updated_at.toISOString() }).toEqual({
      title: event.title,
      capacity: 3,
      updatedAt: event.updatedAt,
    });
    expect((await one(`SELECT count(*)::int AS n FROM event_places WHERE event_id = $1`, [event.id])).n).toBe(3);
    expect(await auditJobs('event.update', event.id)).toBe(0);

    const updated = await owner.client.patch(`/api/v1/events/${event.id}`, { title: 'Renamed', capacity: 6 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ title: 'Renamed', capacity: 6 });
    expect((await one(`SELECT count(*)::int AS n FROM event_places WHERE event_id = $1`, [event.id])).n).toBe(6);
    expect(await auditJobs('event.update', event.id)).toBe(1);
  });

  it('delete: a refused audit entry leaves the event in place; a deletion is audited once', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 2);
    expectInternalError(await refusingAudit('event.delete', () => owner.client.delete(`/api/v1/events/${event.id}`)));
    expect((await owner.client.get(`/api/v1/events/${event.id}`)).status).toBe(200);
    expect((await one(`SELECT count(*)::int AS n FROM event_places WHERE event_id = $1`, [event.id])).n).toBe(2);
    expect(await auditJobs('event.delete', event.id)).toBe(0);

    expect((await owner.client.delete(`/api/v1/events/${event.id}`)).status).toBeLessThan(300);
    expect((await owner.client.get(`/api/v1/events/${event.id}`)).status).toBe(404);
    expect(await auditJobs('event.delete', event.id)).toBe(1);
  });
});

describe('bookings: the write and its audit entry commit together', () => {
  it('book: a refused audit entry leaves no booking and the place free; a booking is audited once, a re-book not again', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 1);
    const guest = await signUp(t.url);
    expectInternalError(await refusingAuditRow('booking.create', () => guest.client.post(`/api/v1/events/${event.id}/bookings`)));
    expect((await one(`SELECT count(*)::int AS n FROM bookings WHERE event_id = $1`, [event.id])).n).toBe(0);
    expect((await one(`SELECT count(*)::int AS n FROM event_places WHERE event_id = $1 AND booking_id IS NULL`, [event.id])).n).toBe(1);

    const booked = await guest.client.post(`/api/v1/events/${event.id}/bookings`);
    expect(booked.status).toBe(201);
    expect((await guest.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(200);
    expect(await auditRows('booking.create', booked.body.booking.id)).toBe(1);
    expect(await auditJobs('booking.create')).toBe(0);
    expect(
      (await one(`SELECT count(*)::int AS n FROM event_places WHERE event_id = $1 AND booking_id = $2`, [event.id, booked.body.booking.id]))
        .n,
    ).toBe(1);
  });

  it('cancel: a refused audit entry leaves the booking confirmed and its place held; a cancellation is audited once', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, 1);
    const guest = await signUp(t.url);
    const booking = (await guest.client.post(`/api/v1/events/${event.id}/bookings`)).body.booking;
    expectInternalError(await refusingAuditRow('booking.cancel', () => guest.client.delete(`/api/v1/events/${event.id}/bookings/me`)));
    expect((await one(`SELECT status FROM bookings WHERE id = $1`, [booking.id])).status).toBe('confirmed');
    expect((await one(`SELECT count(*)::int AS n FROM event_places WHERE booking_id = $1`, [booking.id])).n).toBe(1);
    expect(await auditRows('booking.cancel', booking.id)).toBe(0);

    expect((await guest.client.delete(`/api/v1/events/${event.id}/bookings/me`)).status).toBe(204);
    expect((await one(`SELECT status FROM bookings WHERE id = $1`, [booking.id])).status).toBe('cancelled');
    expect((await one(`SELECT count(*)::int AS n FROM event_places WHERE event_id = $1 AND booking_id IS NULL`, [event.id])).n).toBe(1);
    expect(await auditRows('booking.cancel', booking.id)).toBe(1);
    expect(await auditJobs('booking.cancel')).toBe(0);
  });
});

describe('photos: the deletion and its audit entry commit together', () => {
  it('delete: a refused audit entry leaves the photo in place; a deletion is audited once', async () => {
    const owner = await signUp(t.url);
    const event = await createEvent(owner.client, null);
    // A ready photo row is enough: the objects it names are removed after the commit, and missing ones are ignored.
    const photo = await one<{ id: string }>(
      `INSERT INTO photos (event_id, uploader_id, status, original_key, thumbnail_key, display_key, content_type, bytes, width, height)
       VALUES ($1, $2, 'ready', 'originals/2030/01/atomic.jpg', 'derived/2030/01/tatomic.webp', 'derived/2030/01/datomic.webp', 'image/jpeg', 1000, 800, 600)
       RETURNING id`,
      [event.id, owner.user.id],
    );
    expectInternalError(await refusingAudit('photo.delete', () => owner.client.delete(`/api/v1/photos/${photo.id}`)));
    expect((await one(`SELECT count(*)::int AS n FROM photos WHERE id = $1`, [photo.id])).n).toBe(1);
    expect(await auditJobs('photo.delete', photo.id)).toBe(0);

    expect((await owner.client.delete(`/api/v1/photos/${photo.id}`)).status).toBe(204);
    expect((await one(`SELECT count(*)::int AS n FROM photos WHERE id = $1`, [photo.id])).n).toBe(0);
    expect(await auditJobs('photo.delete', photo.id)).toBe(1);
  });
});
