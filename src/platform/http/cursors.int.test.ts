// Cursors are opaque, but a client can send any base64: one that decodes to a
// pair whose date JavaScript parses and PostgreSQL does not ("1", "2/30/2030",
// a year past 9999) reached the database and answered 500 (found by the fuzz
// tier). Every list accepts only the cursors it hands out: anything else is
// 400 invalid_cursor, on the API and on the pages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { futureIso, signUp } from '../../../tests/support/client.js';

const cursor = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');
const ID = '00000000-0000-4000-8000-000000000000';
const FOREIGN = [
  ['1', ID],
  ['2/30/2030', ID],
  ['March 7, 2030', ID],
  ['+250691-09-07T10:45:34.332Z', ID],
  ['-000001-01-01T00:00:00.000Z', ID],
  ['2030-01-01T00:00:00Z', ID],
  ['2030-02-30T00:00:00.000Z', ID],
];

describe('list cursors', () => {
  let t: TestApp;
  let admin: Awaited<ReturnType<typeof signUp>>;
  let eventId: string;

  beforeAll(async () => {
    t = await startTestApp();
    const user = await signUp(t.url);
    await t.services.accounts.createOrPromoteAdmin({ email: user.email, password: user.password });
    admin = await signUp(t.url);
    await t.services.accounts.createOrPromoteAdmin({ email: admin.email, password: admin.password });
    await admin.client.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
    eventId = (await admin.client.post('/api/v1/events', { title: 'Cursors', startsAt: futureIso(), capacity: 5, visibility: 'public' }))
      .body.id;
  });
  afterAll(() => t?.close());

  const lists = () => [
    '/api/v1/events',
    `/api/v1/events/${eventId}/photos`,
    `/api/v1/events/${eventId}/bookings`,
    '/api/v1/me/bookings',
    '/api/v1/admin/audit',
    '/api/v1/admin/jobs',
  ];

  it('answers 400 invalid_cursor to a cursor it did not hand out, on every list', async () => {
    for (const list of lists()) {
      for (const key of FOREIGN) {
        const response = await admin.client.get(`${list}?cursor=${cursor(key)}`);
        expect(response.status, `${list} ${key[0]}`).toBe(400);
        expect(response.body.error.code, `${list} ${key[0]}`).toBe('invalid_cursor');
      }
    }
  });

  it('answers the pages with such a cursor with a 400 page, not a 500', async () => {
    for (const page of ['/', `/events/${eventId}`, '/admin']) {
      const query = page === `/events/${eventId}` ? 'photos' : 'cursor';
      const response = await admin.client.get(`${page}?${query}=${cursor(FOREIGN[0])}`, { accept: 'text/html' });
      expect(response.status, page).toBe(400);
    }
  });

  it('still follows the cursors it hands out', async () => {
    for (let i = 0; i < 3; i++)
      await admin.client.post('/api/v1/events', { title: `More ${i}`, startsAt: futureIso(10 + i), capacity: null, visibility: 'public' });
    const first = await admin.client.get('/api/v1/events?limit=2');
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await admin.client.get(`/api/v1/events?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.status).toBe(200);
    expect(second.body.items.length).toBeGreaterThan(0);
    // The audit trail fills in the background; the jobs that fill it are a list too.
    const jobs = await admin.client.get('/api/v1/admin/jobs?limit=1');
    expect(jobs.body.nextCursor).toEqual(expect.any(String));
    expect((await admin.client.get(`/api/v1/admin/jobs?limit=1&cursor=${jobs.body.nextCursor}`)).status).toBe(200);
  });
});
