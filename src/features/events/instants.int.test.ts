// Instants the API's schema accepts (RFC 3339 date-time) must be stored, not
// fail in the database (found by the fuzz tier): a leap second such as
// 2016-12-31T23:59:60Z is valid RFC 3339 that JavaScript's Date cannot parse,
// which reached PostgreSQL as NaN and answered 500. It is taken as PostgreSQL
// takes it, as the next second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { signUp } from '../../../tests/support/client.js';

describe('event instants', () => {
  let t: TestApp;
  let owner: Awaited<ReturnType<typeof signUp>>;

  beforeAll(async () => {
    t = await startTestApp();
    owner = await signUp(t.url);
  });
  afterAll(() => t?.close());

  const event = (startsAt: string, endsAt: string | null = null) => ({
    title: 'Leap',
    startsAt,
    endsAt,
    capacity: null,
    visibility: 'public',
  });

  it('takes a leap second as the next second, on create and on update', async () => {
    const created = await owner.client.post('/api/v1/events', event('2030-06-30T23:59:60Z', '2030-12-31T23:59:60+00:00'));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ startsAt: '2030-07-01T00:00:00.000Z', endsAt: '2031-01-01T00:00:00.000Z' });
    const updated = await owner.client.patch(`/api/v1/events/${created.body.id}`, { startsAt: '2030-06-30T20:59:60-03:00' });
    expect(updated.status).toBe(200);
    expect(updated.body.startsAt).toBe('2030-07-01T00:00:00.000Z');
  });

  it('takes the other RFC 3339 spellings the schema accepts', async () => {
    for (const [given, stored] of [
      ['2030-01-01t10:00:00z', '2030-01-01T10:00:00.000Z'],
      ['2030-01-01T10:00:00.123456789+01:00', '2030-01-01T09:00:00.123Z'],
    ]) {
      const created = await owner.client.post('/api/v1/events', event(given!));
      expect(created.status, given).toBe(201);
      expect(created.body.startsAt, given).toBe(stored);
    }
  });
});
