import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import { seedGallery } from '../../../tests/support/gallery.js';
import { recordStatements } from '../../../tests/support/statements.js';
import { INVITES_COOKIE } from './invite-passes.js';

const statementsDuring = recordStatements();
let t: TestApp;
let worker: ReturnType<typeof startTestWorker>;
beforeAll(async () => {
  t = await startTestApp();
  worker = startTestWorker(t);
});
afterAll(async () => {
  await worker?.stop({ graceMs: 1000 });
  await t?.close();
});

async function hostWithEvent(visibility: 'private' | 'unlisted' | 'public' = 'private') {
  const host = await signUp(t.url, { name: 'Hostess' });
  const created = await host.client.post('/api/v1/events', { title: 'Secret supper', startsAt: futureIso(3), capacity: 10, visibility });
  expect(created.status).toBe(201);
  return { host, eventId: created.body.id as string };
}

async function invite(host: Client, eventId: string, body: Record<string, unknown> = {}) {
  const response = await host.post(`/api/v1/events/${eventId}/invites`, body);
  expect(response.status).toBe(201);
  const url = new URL(response.body.url);
  return {
    id: response.body.invite.id as string,
    token: url.searchParams.get('token')!,
    path: `${url.pathname}${url.search}`,
    body: response.body,
  };
}

/** What a stranger (signed in or not, without the link) gets from every address that shows the event or its photos. */
async function everything(client: Client, eventId: string, photoId: string) {
  const answers = await Promise.all([
    client.get(`/events/${eventId}`, { accept: 'text/html' }),
    client.get(`/api/v1/events/${eventId}`),
    client.get(`/api/v1/events/${eventId}/photos`),
    client.get(`/events/${eventId}/photos/${photoId}`, { accept: 'text/html' }),
    client.get(`/api/v1/photos/${photoId}`),
    client.post(`/api/v1/events/${eventId}/bookings`),
  ]);
  return answers.map((answer) => answer.status);
}

describe('invite links', () => {
  it('let whoever opens one see a private event and its photos, sign up on the way and book; strangers still get 404 everywhere', async () => {
    const { host, eventId } = await hostWithEvent();
    const [photoId] = await seedGallery(t, host.client, eventId, 1);
    const link = await invite(host.client, eventId);
    expect(link.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(link.body.invite).toMatchObject({ eventId, expiresAt: null, revokedAt: null, active: true });

    const anonymous = new Client(t.url);
    const stranger = (await signUp(t.url)).client;
    expect(await everything(stranger, eventId, photoId!)).toEqual([404, 404, 404, 404, 404, 404]);
    expect((await everything(anonymous, eventId, photoId!)).slice(0, 5)).toEqual([404, 404, 404, 404, 404]);

    // The link: a pass for the browser, then the event's own address; the token leaves the address bar at once.
    const visitor = new Client(t.url);
    const opened = await visitor.get(link.path, { accept: 'text/html' });
    expect(opened.status).toBe(303);
    expect(opened.headers.get('location')).toBe(`/events/${eventId}`);
    expect(opened.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(opened.headers.get('cache-control')).toBe('private, no-store');
    expect(visitor.cookies.get(INVITES_COOKIE)).toBeTruthy();
    expect(visitor.cookies.get(INVITES_COOKIE)).not.toContain(link.token);

    const page = await visitor.get(`/events/${eventId}`, { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('private, no-store');
    expect(page.text).toContain('Secret supper');
    expect(page.text).toContain(`/signup?next=/events/${eventId}`);
    expect((await visitor.get(`/api/v1/events/${eventId}/photos`)).body.items.map((p: { id: string }) => p.id)).toEqual([photoId]);
    expect((await visitor.get(`/events/${eventId}/photos/${photoId}`, { accept: 'text/html' })).status).toBe(200);
    expect((await visitor.get(`/api/v1/photos/${photoId}`)).status).toBe(200);

    // Signing up on the way comes back to the event, the pass still held; then the booking form books.
    const signup = await visitor.request('POST', '/signup', {
      form: { name: 'Guest', email: `guest-${Date.now()}@example.test`, password: 'correct horse battery', next: `/events/${eventId}` },
    });
    expect(signup.status).toBe(303);
    expect(signup.headers.get('location')).toBe(`/events/${eventId}`);
    const booked = await visitor.request('POST', `/events/${eventId}/book`, { form: {} });
    expect(booked.headers.get('location')).toBe(`/events/${eventId}?notice=booked`);
    expect((await visitor.get('/api/v1/me/bookings')).body.items.map((b: { eventId: string }) => b.eventId)).toEqual([eventId]);
    // Signed in with the pass: the page knows them and their booking (read with its gallery, the event being theirs to see).
    const theirs = await visitor.get(`/events/${eventId}`, { accept: 'text/html' });
    expect(theirs.status).toBe(200);
    expect(theirs.text).toContain('action="/logout"');
    expect(theirs.text).toContain('Cancel my booking');

    // The host sees the links, never a token.
    const listed = await host.client.get(`/api/v1/events/${eventId}/invites`);
    expect(listed.body.items).toEqual([link.body.invite]);
    expect(listed.text).not.toContain(link.token);
    const hostPage = await host.client.get(`/events/${eventId}`, { accept: 'text/html' });
    expect(hostPage.text).toContain('Invite links');
    // "Never" comes first, so it is what the form sends untouched.
    expect(hostPage.text).toMatch(/<select id="invite-expires" name="expires">\s*<option value="never">/);
    expect(hostPage.text).not.toContain(link.token);
  });

  it('once revoked, let nobody new in; who booked keeps the place and the event, who only looked loses it', async () => {
    const { host, eventId } = await hostWithEvent();
    const link = await invite(host.client, eventId);
    const booker = (await signUp(t.url)).client;
    const looker = new Client(t.url);
    for (const client of [booker, looker]) expect((await client.get(link.path)).status).toBe(303);
    expect((await booker.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(201);
    expect((await looker.get(`/api/v1/events/${eventId}`)).status).toBe(200);

    // The page's way: a confirmation step (the POST without it only sends there), then the form.
    const confirmation = `/events/${eventId}/invites/${link.id}/revoke`;
    const unconfirmed = await host.client.request('POST', confirmation, { form: {} });
    expect(unconfirmed.headers.get('location')).toBe(confirmation);
    expect((await looker.get(`/api/v1/events/${eventId}`)).status).toBe(200);
    expect((await host.client.get(confirmation, { accept: 'text/html' })).text).toContain('name="confirm" value="yes"');
    expect((await looker.get(confirmation, { accept: 'text/html' })).status).toBe(302);
    const revoked = await host.client.request('POST', confirmation, { form: { confirm: 'yes' } });
    expect(revoked.headers.get('location')).toBe(`/events/${eventId}?notice=invite-revoked`);
    expect((await host.client.delete(`/api/v1/events/${eventId}/invites/${link.id}`)).status).toBe(404);

    expect((await looker.get(`/api/v1/events/${eventId}`)).status).toBe(404);
    expect((await looker.get(`/events/${eventId}`, { accept: 'text/html' })).status).toBe(404);
    expect((await new Client(t.url).get(link.path, { accept: 'text/html' })).status).toBe(404);
    expect((await booker.get(`/api/v1/events/${eventId}`)).status).toBe(200);
    // The page too: the pass no longer opens the event, the booking still does.
    const bookerPage = await booker.get(`/events/${eventId}`, { accept: 'text/html' });
    expect(bookerPage.status).toBe(200);
    expect(bookerPage.text).toContain('Cancel my booking');
    expect((await booker.get('/api/v1/me/bookings')).body.items).toHaveLength(1);
    const latecomer = (await signUp(t.url)).client;
    expect((await latecomer.post('/api/v1/invites/open', { token: link.token })).status).toBe(404);

    const listed = await host.client.get(`/api/v1/events/${eventId}/invites`);
    expect(listed.body.items[0]).toMatchObject({ id: link.id, active: false, revokedAt: expect.any(String) });
  });

  it('stop working when they expire, and refuse an expiry in the past', async () => {
    const { host, eventId } = await hostWithEvent();
    const past = await host.client.post(`/api/v1/events/${eventId}/invites`, { expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect(past.status).toBe(400);
    expect(past.body.error.details).toEqual([{ field: 'expiresAt', problem: 'must be in the future' }]);

    const link = await invite(host.client, eventId, { expiresAt: futureIso(1) });
    const guest = (await signUp(t.url)).client;
    const opened = await guest.post('/api/v1/invites/open', { token: link.token });
    expect(opened.status).toBe(200);
    expect(opened.body.event.id).toBe(eventId);
    await t.platform.pool.query(`UPDATE event_invites SET expires_at = now() - interval '1 second' WHERE id = $1`, [link.id]);
    expect((await guest.get(`/api/v1/events/${eventId}`)).status).toBe(404);
    expect((await guest.post(`/api/v1/events/${eventId}/bookings`)).status).toBe(404);
    expect((await guest.post('/api/v1/invites/open', { token: link.token })).status).toBe(404);
  });

  it('are for the host or an admin, of private and unlisted events only; hostile tokens are a 404 or a 400', async () => {
    const { host, eventId } = await hostWithEvent('unlisted');
    const other = (await signUp(t.url)).client;
    expect((await other.post(`/api/v1/events/${eventId}/invites`, {})).status).toBe(403);
    expect((await other.get(`/api/v1/events/${eventId}/invites`)).status).toBe(403);
    const link = await invite(host.client, eventId);
    expect((await other.delete(`/api/v1/events/${eventId}/invites/${link.id}`)).status).toBe(403);
    expect((await host.client.delete(`/api/v1/events/${eventId}/invites/not-a-uuid`)).status).toBe(404);

    const publicEvent = await hostWithEvent('public');
    const refused = await publicEvent.host.client.post(`/api/v1/events/${publicEvent.eventId}/invites`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('conflict');

    const anonymous = new Client(t.url);
    for (const path of [
      '/invite',
      '/invite?token=',
      `/invite?token=${'A'.repeat(43)}`,
      `/invite?token=${link.token}x`,
      '/invite?token=a&token=b',
    ])
      expect((await anonymous.get(path, { accept: 'text/html' })).status).toBe(404);
    expect((await anonymous.post('/api/v1/invites/open', { token: 42 })).status).toBe(400);
    expect((await anonymous.post('/api/v1/invites/open', { token: 'x'.repeat(101) })).status).toBe(400);
    const form = await host.client.request('POST', `/events/${eventId}/invites`, { form: { expires: 'constructor' } });
    expect(form.status).toBe(400);
  });

  it('made from the page are shown once, in the answer to the form, in no address and no cache', async () => {
    const { host, eventId } = await hostWithEvent();
    const made = await host.client.request('POST', `/events/${eventId}/invites`, { form: { expires: 'week' } });
    expect(made.status).toBe(200);
    expect(made.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(made.headers.get('cache-control')).toBe('private, no-store');
    const url = made.text.match(/value="(http[^"]+)"/)![1]!.replaceAll('&amp;', '&');
    const token = new URL(url).searchParams.get('token')!;
    const [row] = (await t.platform.pool.query(`SELECT expires_at FROM event_invites WHERE event_id = $1`, [eventId])).rows;
    expect(row.expires_at.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect((await new Client(t.url).post('/api/v1/invites/open', { token })).status).toBe(200);
  });

  it('leave no token in the database or the audit trail, and an invited view is never served from or kept in the public page cache', async () => {
    const { host, eventId } = await hostWithEvent();
    const link = await invite(host.client, eventId);
    await host.client.delete(`/api/v1/events/${eventId}/invites/${link.id}`);
    const audit = await eventually(async () => {
      const { rows } = await t.platform.pool.query(
        `SELECT action, subject_type, subject_id, metadata FROM audit_log WHERE action LIKE 'invite.%' AND subject_id = $1 ORDER BY at`,
        [eventId],
      );
      return rows.length === 2 ? rows : undefined;
    });
    expect(audit).toEqual([
      { action: 'invite.create', subject_type: 'event', subject_id: eventId, metadata: { inviteId: link.id } },
      { action: 'invite.revoke', subject_type: 'event', subject_id: eventId, metadata: { inviteId: link.id } },
    ]);
    const dump = await t.platform.pool.query(
      `SELECT (SELECT string_agg(a::text, '') FROM audit_log a) || (SELECT string_agg(j::text, '') FROM jobs j) || (SELECT string_agg(i::text, '') FROM event_invites i) AS text`,
    );
    expect(dump.rows[0].text).not.toContain(link.token);

    // A public page: the anonymous copy answers a bare request without a query, never one that carries a pass.
    const shown = await hostWithEvent('public');
    const privateEvent = await hostWithEvent();
    const pass = new Client(t.url);
    expect((await pass.get((await invite(privateEvent.host.client, privateEvent.eventId)).path)).status).toBe(303);
    const anonymous = new Client(t.url);
    await anonymous.get(`/events/${shown.eventId}`, { accept: 'text/html' });
    // The page's own reads: the worker of this process polls its queue meanwhile.
    const reads = async (client: Client) =>
      (await statementsDuring(() => client.get(`/events/${shown.eventId}`, { accept: 'text/html' }))).filter(
        (text) => !/\bjobs?\b|job_schedules/.test(text),
      );
    expect(await reads(anonymous)).toEqual([]);
    expect((await reads(pass)).length).toBeGreaterThan(0);
  });
});
