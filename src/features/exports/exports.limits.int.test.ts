// What exports may cost (issue 13): a request while one is queued gets that
// one, and each user may start EXPORT_RATE_LIMIT an hour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { type Client, futureIso, signUp } from '../../../tests/support/client.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ EXPORT_RATE_LIMIT: '2' });
});
afterAll(() => t.close());

const exportRows = async (requesterId: string) =>
  (await t.platform.pool.query('SELECT id, status FROM exports WHERE requester_id = $1', [requesterId])).rows as {
    id: string;
    status: string;
  }[];

async function newEvent(client: Client): Promise<string> {
  return (await client.post('/api/v1/events', { title: 'Exported', startsAt: futureIso(), capacity: null, visibility: 'public' })).body.id;
}

describe('exports', () => {
  it('answer 20 concurrent requests for one event with one export, built once', async () => {
    const host = await signUp(t.url);
    const eventId = await newEvent(host.client);
    const answers = await Promise.all(Array.from({ length: 20 }, () => host.client.post(`/api/v1/events/${eventId}/exports`)));
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 20 }, () => 202));
    expect(new Set(answers.map((answer) => answer.body.export.id)).size).toBe(1);
    expect(await exportRows(host.user.id)).toHaveLength(1);
    const { rows } = await t.platform.pool.query(
      `SELECT count(*)::int AS n FROM jobs WHERE name = 'exports.build'
      AND payload->>'exportId' = $1`,
      [answers[0]!.body.export.id],
    );
    expect(rows[0].n).toBe(1);
    // The own-data export is another one, pending on its own, and the form reuses it too.
    const own = await host.client.post('/api/v1/me/exports');
    expect(own.status).toBe(202);
    expect(own.body.export.id).not.toBe(answers[0]!.body.export.id);
    expect((await host.client.request('POST', '/me/exports', { form: {} })).status).toBe(303);
    expect(await exportRows(host.user.id)).toHaveLength(2);
  });

  it('answer every request as the contract says, 202 queued: one being built is not handed out again', async () => {
    const host = await signUp(t.url);
    const eventId = await newEvent(host.client);
    const first = await host.client.post(`/api/v1/events/${eventId}/exports`);
    expect(first.status).toBe(202);
    expect(first.body.export.status).toBe('queued');
    // What a worker's markRunning writes when it picks the build up (no worker runs here, so nothing races it).
    await t.platform.pool.query(`UPDATE exports SET status = 'running' WHERE id = $1`, [first.body.export.id]);
    const second = await host.client.post(`/api/v1/events/${eventId}/exports`);
    expect(second.status).toBe(202);
    expect(second.body.export.status).toBe('queued');
    expect(second.body.export.id).not.toBe(first.body.export.id);
    // The new queued one is what further requests get.
    const third = await host.client.post(`/api/v1/events/${eventId}/exports`);
    expect(third.body.export).toMatchObject({ id: second.body.export.id, status: 'queued' });
    expect(await exportRows(host.user.id)).toHaveLength(2);
  });

  it('are limited per user once none is queued: 429 with retry-after, from the API and the forms', async () => {
    const host = await signUp(t.url);
    const eventId = await newEvent(host.client);
    const worker = startTestWorker(t);
    try {
      for (let i = 0; i < 2; i++) {
        const requested = await host.client.post(`/api/v1/events/${eventId}/exports`);
        expect(requested.status).toBe(202);
        await eventually(
          async () =>
            (await host.client.get(`/api/v1/exports/${requested.body.export.id}`)).body.export.status === 'ready' ? true : undefined,
          30_000,
          'the export to be built',
        );
      }
    } finally {
      await worker.stop({ graceMs: 1000 });
    }
    const refused = await host.client.post(`/api/v1/events/${eventId}/exports`);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await host.client.post('/api/v1/me/exports')).status).toBe(429);
    const form = await host.client.request('POST', `/events/${eventId}/exports`, { form: {} });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe('/me?notice=export-throttled#exports');
    const page = await host.client.request('GET', '/me?notice=export-throttled', { headers: { accept: 'text/html' } });
    expect(page.text).toContain('No export was started');
    expect(await exportRows(host.user.id)).toHaveLength(2);
    // Another user is not affected.
    const other = await signUp(t.url);
    expect((await other.client.post('/api/v1/me/exports')).status).toBe(202);
  });
});
