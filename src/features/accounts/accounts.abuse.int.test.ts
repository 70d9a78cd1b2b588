// Findings of the attack run against accounts (issue 13), each kept as a regression test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, signUp } from '../../../tests/support/client.js';
import { createSafeNext } from './accounts.routes.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ SIGNUP_RATE_LIMIT: '30' });
});
afterAll(() => t.close());

describe('the login throttle', () => {
  it('counts an email padded with spaces or written in another case as the same account', async () => {
    const { email, password } = await signUp(t.url);
    const client = new Client(t.url);
    const spellings = [email, ` ${email}`, `${email}  `, `\t${email.toUpperCase()}`, `  ${email} `];
    for (const spelling of spellings) {
      expect((await client.post('/api/v1/auth/login', { email: spelling, password: 'not the password' })).status).toBe(401);
    }
    // Five failures on one account, however spelt: even the right password waits now.
    for (const spelling of [` ${email}`, email.toUpperCase(), email]) {
      const blocked = await client.post('/api/v1/auth/login', { email: spelling, password });
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('rate_limited');
    }
  });

  it('checks at most the limit of 40 parallel wrong passwords; the rest are refused before the password is verified', async () => {
    const { email } = await signUp(t.url);
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        // One client per guess, as a distributed guesser would; the limit is per account.
        const response = await new Client(t.url).post('/api/v1/auth/login', { email, password: `guess-${i}` });
        return response.status;
      }),
    );
    const checked = statuses.filter((status) => status === 401).length;
    expect(statuses.filter((status) => status !== 401 && status !== 429)).toEqual([]);
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(5);
  });

  it('a right password gives its attempt back to the address: 51 sign-ins in a row from one address all succeed', async () => {
    const { email, password } = await signUp(t.url);
    for (let i = 0; i < 51; i++) {
      const signedIn = await t.services.accounts.login({ email, password, address: '198.51.100.7' });
      expect(signedIn.user.email).toBe(email);
    }
  });
});

describe('signup', () => {
  it('is rate-limited per client address (429 with retry-after), for the API and the form', async () => {
    const separate = await startTestApp({ SIGNUP_RATE_LIMIT: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const response = await new Client(separate.url).post('/api/v1/auth/signup', {
          email: `burst-${i}@example.test`,
          password: 'long enough pw',
          name: `Burst ${i}`,
        });
        statuses.push(response.status);
        if (response.status === 429) {
          expect(response.body.error.code).toBe('rate_limited');
          expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
        }
      }
      expect(statuses).toEqual([201, 201, 201, 429, 429]);
      const form = await new Client(separate.url).request('POST', '/signup', {
        form: { email: 'form-burst@example.test', password: 'long enough pw', name: 'Form' },
      });
      expect(form.status).toBe(429);
      expect(Number(form.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(form.text).toContain('Too many sign-ups');
      const stored = await separate.platform.db.selectFrom('users').select('email').execute();
      expect(stored.map((row) => row.email).sort()).toEqual(['burst-0@example.test', 'burst-1@example.test', 'burst-2@example.test']);
    } finally {
      await separate.close();
    }
  });
});

describe('deleting an account', () => {
  it('needs the current password: 400 without it, 403 wrong_password when wrong (counted by the throttle), 204 when right', async () => {
    const a = await signUp(t.url);
    const missing = await a.client.request('DELETE', '/api/v1/me');
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('validation_failed');
    const wrong = await a.client.request('DELETE', '/api/v1/me', { json: { password: 'not my password' } });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('wrong_password');
    expect((await a.client.get('/api/v1/me')).status).toBe(200);
    const done = await a.client.request('DELETE', '/api/v1/me', { json: { password: a.password } });
    expect(done.status).toBe(204);
    expect((await a.client.get('/api/v1/me')).status).toBe(401);
  });

  it('counts wrong passwords like logins: after five, even the right one waits', async () => {
    const a = await signUp(t.url);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await a.client.request('DELETE', '/api/v1/me', { json: { password: `guess-${i}` } })).status);
    expect(statuses).toEqual([403, 403, 403, 403, 403, 429]);
    expect((await a.client.request('DELETE', '/api/v1/me', { json: { password: a.password } })).status).toBe(429);
    expect((await a.client.get('/api/v1/me')).status).toBe(200);
  });

  it('asks for the password on the /me form too', async () => {
    const a = await signUp(t.url);
    const page = await a.client.request('GET', '/me', { headers: { accept: 'text/html' } });
    expect(page.text).toMatch(/action="\/me\/delete"[\s\S]*name="password"[\s\S]*autocomplete="current-password"/);
    const wrong = await a.client.request('POST', '/me/delete', { form: { confirm: 'DELETE', password: 'nope' } });
    expect(wrong.status).toBe(303);
    expect(wrong.headers.get('location')).toBe('/me?notice=delete-wrong-password#account');
    const shown = await a.client.request('GET', '/me?notice=delete-wrong-password', { headers: { accept: 'text/html' } });
    expect(shown.text).toContain('the password is not right');
    expect((await a.client.get('/api/v1/me')).status).toBe(200);
    const done = await a.client.request('POST', '/me/delete', { form: { confirm: 'DELETE', password: a.password } });
    expect(done.status).toBe(303);
    expect((await a.client.get('/api/v1/me')).status).toBe(401);
  });
});

describe('redirects after sign-in', () => {
  const safeNext = createSafeNext(new URL('https://epu.example.com'));

  it.each([
    ['/%09/evil.example', '/'],
    ['/%2F/evil.example', '/'],
    ['/\t/evil.example', '/'],
    ['/\n/evil.example', '/'],
    ['/\r\n/evil.example', '/'],
    ['/\u0000/evil.example', '/'],
    ['//evil.example', '/'],
    ['/\\evil.example', '/'],
    ['\\\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['http://epu.example.com/me', '/'],
    ['javascript:alert(1)', '/'],
    [' /me', '/'],
    ['me', '/'],
    ['/events/1?x=1#gallery', '/events/1?x=1#gallery'],
    ['/me', '/me'],
  ])('next %j goes to %j', (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });

  it('never leaves the site when the login form posts a next with a control character', async () => {
    const { email, password } = await signUp(t.url);
    for (const next of ['/\t/evil.example', '/%09/evil.example', '/\u000b/evil.example']) {
      const response = await new Client(t.url).request('POST', '/login', { form: { email, password, next } });
      expect(response.status).toBe(303);
      const target = new URL(response.headers.get('location')!, t.url);
      expect(target.origin).toBe(t.url);
      expect(target.pathname.startsWith('//')).toBe(false);
    }
  });
});

describe('text PostgreSQL cannot store', () => {
  // A NUL reached PostgreSQL, which refuses it in text (22021): found by the fuzz tier as a 500.
  it('a NUL in a sign-in email answers 400 validation_failed, from the API and from the form', async () => {
    const client = new Client(t.url);
    for (const email of ['\u0000', `ada\u0000@example.com`]) {
      const api = await client.post('/api/v1/auth/login', { email, password: 'whatever1' });
      expect(api.status).toBe(400);
      expect(api.body.error.code).toBe('validation_failed');
      const form = await client.request('POST', '/login', { form: { email, password: 'whatever1' } });
      expect(form.status).toBe(400);
    }
  });
});
