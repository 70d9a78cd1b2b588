import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_SECRET, type TestApp } from '../../../tests/support/app.js';
import { Client, signUp } from '../../../tests/support/client.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

/** A public event of the client's, whose page shows whether its reader is signed in. */
async function publicEventOf(client: Client) {
  const startsAt = new Date(Date.now() + 86_400_000).toISOString();
  const event = await client.post('/api/v1/events', {
    title: 'Session check',
    description: 'x',
    venue: 'Hall',
    startsAt,
    capacity: 5,
    visibility: 'public',
  });
  expect(event.status).toBe(201);
  return event;
}

describe('signup, login, logout, /me', () => {
  it('signs up with a session cookie that is HttpOnly and SameSite=Lax, and /me answers with the user', async () => {
    const client = new Client(t.url);
    const response = await client.post('/api/v1/auth/signup', { email: 'Ada@Example.test', password: 'long enough pw', name: 'Ada' });
    expect(response.status).toBe(201);
    expect(response.body.user).toMatchObject({ email: 'Ada@Example.test', name: 'Ada', role: 'user' });
    expect(Object.keys(response.body.user).sort()).toEqual(['email', 'id', 'name', 'role']);
    const cookie = response.headers.getSetCookie().join(';');
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i); // PUBLIC_URL is http in tests
    const me = await client.get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(response.body.user.id);
  });

  it('refuses a second account with the same email, whatever its case (409 email_taken)', async () => {
    const first = await signUp(t.url);
    const again = await new Client(t.url).post('/api/v1/auth/signup', {
      email: first.email.toUpperCase(),
      password: 'another password',
      name: 'X',
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('email_taken');
  });

  it('logs in with the right password and refuses a wrong one with 401 invalid_credentials', async () => {
    const { email, password } = await signUp(t.url);
    const client = new Client(t.url);
    expect((await client.post('/api/v1/auth/login', { email, password: 'wrong password' })).body.error.code).toBe('invalid_credentials');
    const ok = await client.post('/api/v1/auth/login', { email, password });
    expect(ok.status).toBe(200);
    expect(ok.body.user.email).toBe(email);
    const unknown = await client.post('/api/v1/auth/login', { email: 'nobody@example.test', password });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('invalid_credentials');
  });

  it('answers 401 not_signed_in without a session, and with a forged cookie', async () => {
    const anonymous = new Client(t.url);
    const me = await anonymous.get('/api/v1/me');
    expect(me.status).toBe(401);
    expect(me.body.error.code).toBe('not_signed_in');
    anonymous.cookies.set('epu_session', 'bm90LWEtcmVhbC1zZXNzaW9uLWNvb2tpZS1hdC1hbGwtYXQtYWxs');
    expect((await anonymous.get('/api/v1/me')).status).toBe(401);
  });

  it('logout ends the session for good: a saved copy of the cookie no longer works', async () => {
    const { client } = await signUp(t.url);
    const saved = new Map(client.cookies);
    expect((await client.post('/api/v1/auth/logout')).status).toBe(204);
    expect((await client.get('/api/v1/me')).status).toBe(401);
    const replay = new Client(t.url);
    for (const [k, v] of saved) replay.cookies.set(k, v);
    expect((await replay.get('/api/v1/me')).status).toBe(401);
  });

  it('a session past its expiry is no session: the API answers 401 and pages read as signed out', async () => {
    const { client, user } = await signUp(t.url);
    const event = await publicEventOf(client);
    expect((await client.get('/api/v1/me')).status).toBe(200);
    // The database's clock decides (sessions.expires_at > now()): a second past it is past it.
    await t.platform.pool.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.id]);
    const me = await client.get('/api/v1/me');
    expect(me.status).toBe(401);
    expect(me.body.error.code).toBe('not_signed_in');
    const page = await client.request('GET', `/events/${event.body.id}`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('href="/login');
    expect(page.text).not.toContain('action="/logout"');
    // Given back a minute, it is live again: the clock is all that ended it.
    await t.platform.pool.query(`UPDATE sessions SET expires_at = now() + interval '1 minute' WHERE user_id = $1`, [user.id]);
    expect((await client.get('/api/v1/me')).status).toBe(200);
    const again = await client.request('GET', `/events/${event.body.id}`, { headers: { accept: 'text/html' } });
    expect(again.text).toContain('action="/logout"');
  });

  it('keeps a session sealed with the previous SECRET_KEY after a rotation, and re-seals it with the new one (API and page)', async () => {
    const { client, user } = await signUp(t.url);
    const event = await publicEventOf(client);
    const oldCookie = client.cookieHeader();
    const rotated = await startTestApp({ SECRET_KEY: `${'r'.repeat(20)}${TEST_SECRET.slice(20, 60)},${TEST_SECRET}` }, t.database);
    try {
      for (const [path, accept] of [
        ['/api/v1/me', 'application/json'],
        [`/events/${event.body.id}`, 'text/html'],
      ] as const) {
        const response = await fetch(`${rotated.url}${path}`, { headers: { cookie: oldCookie, accept } });
        expect(response.status, path).toBe(200);
        const body = await response.text();
        expect(body, path).toContain(accept === 'text/html' ? 'action="/logout"' : user.id);
        // Re-sealed under the newest key: a cookie the rotated server opens as current, which the old server cannot.
        const resealed = response.headers.getSetCookie().find((line) => line.startsWith('epu_session='));
        expect(resealed, path).toBeDefined();
        const fresh = resealed!.split(';')[0]!;
        expect(fresh).not.toBe(oldCookie);
        const again = await fetch(`${rotated.url}/api/v1/me`, { headers: { cookie: fresh } });
        expect(again.status).toBe(200);
        expect(again.headers.getSetCookie().some((line) => line.startsWith('epu_session='))).toBe(false);
        expect((await fetch(`${t.url}/api/v1/me`, { headers: { cookie: fresh } })).status).toBe(401);
      }
    } finally {
      await rotated.close();
    }
  });

  it('a password change ends every other session and keeps the device that made it signed in; a role change ends every session', async () => {
    const a = await signUp(t.url);
    const secondDevice = new Client(t.url);
    await secondDevice.post('/api/v1/auth/login', { email: a.email, password: a.password });
    const changed = await a.client.post('/api/v1/me/password', { currentPassword: a.password, newPassword: 'a brand new password' });
    expect(changed.status).toBe(200);
    expect(changed.body.user).toMatchObject({ id: a.user.id, email: a.email });
    expect((await a.client.get('/api/v1/me')).status).toBe(200);
    expect((await secondDevice.get('/api/v1/me')).status).toBe(401);
    expect((await new Client(t.url).post('/api/v1/auth/login', { email: a.email, password: a.password })).status).toBe(401);
    const relogged = new Client(t.url);
    expect((await relogged.post('/api/v1/auth/login', { email: a.email, password: 'a brand new password' })).status).toBe(200);
    await t.services.accounts.setRole(a.user.id, 'admin');
    expect((await relogged.get('/api/v1/me')).status).toBe(401);
    expect((await a.client.get('/api/v1/me')).status).toBe(401);
  });

  it('refuses a password change with a wrong current password (403), a short new one (400) or no session (401), and changes nothing', async () => {
    const a = await signUp(t.url);
    const wrong = await a.client.post('/api/v1/me/password', { currentPassword: 'not my password', newPassword: 'a brand new password' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('wrong_password');
    const short = await a.client.post('/api/v1/me/password', { currentPassword: a.password, newPassword: 'short' });
    expect(short.status).toBe(400);
    expect(short.body.error.code).toBe('validation_failed');
    const extra = await a.client.post('/api/v1/me/password', {
      currentPassword: a.password,
      newPassword: 'a brand new password',
      role: 'admin',
    });
    expect(extra.status).toBe(400);
    const anonymous = await new Client(t.url).post('/api/v1/me/password', {
      currentPassword: a.password,
      newPassword: 'a brand new password',
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('not_signed_in');
    // Nothing changed: the old password still signs in and the session still works.
    expect((await a.client.get('/api/v1/me')).status).toBe(200);
    expect((await new Client(t.url).post('/api/v1/auth/login', { email: a.email, password: a.password })).status).toBe(200);
  });

  it('throttles guesses of the current password like logins, so a stolen session cannot find it', async () => {
    const a = await signUp(t.url);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        (await a.client.post('/api/v1/me/password', { currentPassword: `guess-${i}`, newPassword: 'a brand new password' })).status,
      );
    expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
    const blocked = await a.client.post('/api/v1/me/password', { currentPassword: a.password, newPassword: 'a brand new password' });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('changes the password from the account page form, and says why when it does not', async () => {
    const a = await signUp(t.url);
    const page = await a.client.request('GET', '/me', { headers: { accept: 'text/html' } });
    expect(page.text).toContain('action="/me/password"');
    const wrong = await a.client.request('POST', '/me/password', {
      form: { currentPassword: 'nope', newPassword: 'a brand new password' },
    });
    expect(wrong.status).toBe(303);
    expect(wrong.headers.get('location')).toBe('/me?notice=password-wrong#account');
    const shown = await a.client.request('GET', '/me?notice=password-wrong', { headers: { accept: 'text/html' } });
    expect(shown.text).toContain('the current password is not right');
    const short = await a.client.request('POST', '/me/password', { form: { currentPassword: a.password, newPassword: 'short' } });
    expect(short.headers.get('location')).toBe('/me?notice=password-invalid#account');
    const done = await a.client.request('POST', '/me/password', {
      form: { currentPassword: a.password, newPassword: 'a brand new password' },
    });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/me?notice=password-changed#account');
    expect((await a.client.get('/api/v1/me')).status).toBe(200);
    expect((await new Client(t.url).post('/api/v1/auth/login', { email: a.email, password: 'a brand new password' })).status).toBe(200);
    const anonymous = await new Client(t.url).request('POST', '/me/password', {
      form: { currentPassword: 'x', newPassword: 'a brand new password' },
    });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/login?next=/me');
  });

  it('throttles repeated failed logins per account with 429 and retry-after', async () => {
    const { email } = await signUp(t.url);
    const client = new Client(t.url);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await client.post('/api/v1/auth/login', { email, password: `wrong-${i}` })).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    const blocked = await client.post('/api/v1/auth/login', { email, password: 'wrong again' });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('rate_limited');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('throttles per client address across many accounts', async () => {
    const client = new Client(t.url);
    let last = 0;
    for (let i = 0; i < 51; i++) {
      last = (
        await client.post(
          '/api/v1/auth/login',
          { email: `spray-${i}@example.test`, password: 'guess' },
          { 'x-forwarded-for': '203.0.113.9' },
        )
      ).status;
    }
    // TRUST_PROXY_HOPS is 0: X-Forwarded-For is ignored, so the loopback address is the one counted.
    expect(last).toBe(429);
  });
});

describe('bad input to accounts', () => {
  it.each([
    ['missing fields', { email: 'a@example.test' }],
    ['wrong types', { email: 42, password: ['x'], name: null }],
    ['unknown fields', { email: 'b@example.test', password: 'long enough pw', name: 'B', role: 'admin' }],
    ['a bad email', { email: 'not-an-email', password: 'long enough pw', name: 'B' }],
    ['a short password', { email: 'c@example.test', password: 'short', name: 'C' }],
    ['a blank name', { email: 'd@example.test', password: 'long enough pw', name: '   ' }],
  ])('refuses %s with 400 validation_failed', async (_label, body) => {
    const response = await new Client(t.url).post('/api/v1/auth/signup', body);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_failed');
    expect(response.text).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it('refuses malformed JSON with 400 invalid_json', async () => {
    const response = await new Client(t.url).request('POST', '/api/v1/auth/signup', {
      body: '{"email": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_json');
  });

  it('refuses a 1 MB body with 413 too_large', async () => {
    const response = await new Client(t.url).post('/api/v1/auth/signup', {
      email: 'e@example.test',
      password: 'long enough pw',
      name: 'x'.repeat(1024 * 1024),
    });
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('too_large');
  });

  it('never lets a signup body choose its role', async () => {
    const response = await new Client(t.url).post('/api/v1/auth/signup', {
      email: 'f@example.test',
      password: 'long enough pw',
      name: 'F',
      role: 'admin',
    });
    expect(response.status).toBe(400);
  });
});
