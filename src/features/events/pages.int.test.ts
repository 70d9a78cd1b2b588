import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const html = { accept: 'text/html' };

describe('pages without JavaScript', () => {
  it('serves the home page with counters, a heading and linked stylesheet and script (no inline script)', async () => {
    const owner = await signUp(t.url);
    await owner.client.post('/api/v1/events', {
      title: 'Visible on the home page',
      startsAt: futureIso(1),
      capacity: 3,
      visibility: 'public',
    });
    const page = await new Client(t.url).get('/', html);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('<h1>Upcoming events</h1>');
    expect(page.text).toContain('Visible on the home page');
    expect(page.text).toMatch(/<strong>\d+<\/strong> upcoming events/);
    expect(page.text).toMatch(/<link rel="stylesheet" href="\/assets\/app\.css\?v=[0-9a-f]{10}" ?\/?>/);
    expect(page.text).not.toMatch(/<script>(?!<\/script>)/);
    expect(page.text).toContain('lang="en"');
    const css = await new Client(t.url).get(page.text.match(/href="(\/assets\/app\.css\?v=[0-9a-f]+)"/)![1]!);
    expect(css.status).toBe(200);
    expect(css.headers.get('cache-control')).toContain('immutable');
  });

  it('signs up, creates an event, books it, logs out and logs in through forms', async () => {
    const browser = new Client(t.url);
    const email = `form-${Date.now()}@example.test`;
    const signup = await browser.request('POST', '/signup', { form: { name: 'Form User', email, password: 'form password 1' } });
    expect(signup.status).toBe(303);
    expect(signup.headers.get('location')).toBe('/');
    const created = await browser.request('POST', '/events', {
      form: {
        title: 'Form event',
        description: 'Made by a form',
        venue: 'Hall',
        startsAt: '2030-05-01T18:30',
        endsAt: '',
        capacity: '2',
        visibility: 'public',
        timeZone: 'Europe/Berlin',
      },
    });
    expect(created.status).toBe(303);
    const location = created.headers.get('location')!;
    expect(location).toMatch(/^\/events\/[0-9a-f-]{36}$/);
    const eventId = location.split('/').pop()!;
    const api = await browser.get(`/api/v1/events/${eventId}`);
    // 18:30 on Berlin's summer clock (UTC+2).
    expect(api.body).toMatchObject({ title: 'Form event', capacity: 2, startsAt: '2030-05-01T16:30:00.000Z', timeZone: 'Europe/Berlin' });

    const guest = new Client(t.url);
    await guest.request('POST', '/signup', {
      form: { name: 'Guest', email: `guest-${Date.now()}@example.test`, password: 'guest password 1' },
    });
    const booked = await guest.request('POST', `/events/${eventId}/book`, { form: {} });
    expect(booked.status).toBe(303);
    const eventPage = await guest.get(`/events/${eventId}?notice=booked`, html);
    expect(eventPage.text).toContain('Your place is booked.');
    expect(eventPage.text).toContain('Cancel my booking');
    const ownerPage = await browser.get(`/events/${eventId}`, html);
    expect(ownerPage.text).toContain('Guest');
    expect(ownerPage.text).toContain(`href="/events/${eventId}/edit">Manage</a>`);

    expect((await guest.request('POST', '/logout', { form: {} })).status).toBe(303);
    expect((await guest.get('/me', html)).status).toBe(302);
    const bad = await guest.request('POST', '/login', { form: { email: 'nobody@example.test', password: 'x' } });
    expect(bad.status).toBe(401);
    expect(bad.text).toContain('role="alert"');
    const me = await browser.get('/me', html);
    expect(me.status).toBe(200);
    expect(me.text).toContain('Form event');
  });

  it('re-renders a form with the problems and the typed values, with a 400', async () => {
    const { client } = await signUp(t.url);
    const response = await client.request('POST', '/events', {
      form: { title: '', startsAt: '', capacity: 'lots', visibility: 'public', venue: 'Keep me' },
    });
    expect(response.status).toBe(400);
    expect(response.text).toContain('Please fix this');
    expect(response.text).toContain('value="Keep me"');
  });

  it('sends anonymous visitors of /events/new and /me to sign in', async () => {
    const anonymous = new Client(t.url);
    expect((await anonymous.get('/events/new', html)).headers.get('location')).toBe('/login?next=/events/new');
    expect((await anonymous.get('/me', html)).headers.get('location')).toBe('/login?next=/me');
  });

  it('redirects only to local paths after login', async () => {
    const { email, password } = await signUp(t.url);
    const client = new Client(t.url);
    const response = await client.request('POST', '/login', { form: { email, password, next: '//evil.example/' } });
    expect(response.headers.get('location')).toBe('/');
  });

  it('shows a styled 404 page for unknown paths and JSON 404 for the API', async () => {
    const page = await new Client(t.url).get('/no/such/page', html);
    expect(page.status).toBe(404);
    expect(page.text).toContain('Page not found');
    expect(page.text).toContain('app.css');
    const api = await new Client(t.url).get('/api/v1/nothing');
    expect(api.status).toBe(404);
    expect(api.body).toEqual({ error: { code: 'not_found', message: 'Nothing here.' } });
  });
});

describe('security headers and cross-site protection', () => {
  it('sends a CSP without inline scripts, frame-ancestors, nosniff and a referrer policy; no HSTS over http', async () => {
    const response = await new Client(t.url).get('/', html);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(response.headers.get('strict-transport-security')).toBeNull();
  });

  it('refuses unsafe requests that a browser marks as cross-site, for forms and JSON alike', async () => {
    const { client } = await signUp(t.url);
    const evil = await client.request('POST', '/events', {
      form: { title: 'CSRF', startsAt: '2030-01-01T10:00', capacity: '', visibility: 'public' },
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(evil.status).toBe(403);
    const json = await client.request('POST', '/api/v1/events', {
      json: { title: 'CSRF', startsAt: futureIso(), capacity: null, visibility: 'public' },
      headers: { origin: 'https://evil.example' },
    });
    expect(json.status).toBe(403);
    expect(json.body.error.code).toBe('cross_site_request');
    const logout = await client.request('POST', '/api/v1/auth/logout', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(logout.status).toBe(403);
    expect((await client.get('/api/v1/me')).status).toBe(200);
    const sameOrigin = await client.request('POST', '/api/v1/events', {
      json: { title: 'Fine', startsAt: futureIso(), capacity: null, visibility: 'public' },
      headers: { origin: t.url, 'sec-fetch-site': 'same-origin' },
    });
    expect(sameOrigin.status).toBe(201);
  });

  it('echoes a sane caller request id and replaces an unsafe one', async () => {
    const client = new Client(t.url);
    expect((await client.get('/livez', { 'x-request-id': 'abc-123' })).headers.get('x-request-id')).toBe('abc-123');
    const replaced = (await client.get('/livez', { 'x-request-id': 'bad id <script>' })).headers.get('x-request-id');
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('HTTPS deployments', () => {
  it('sends HSTS and marks the session cookie Secure when PUBLIC_URL is https', async () => {
    const secure = await startTestApp({ PUBLIC_URL: 'https://epu.example' });
    try {
      const response = await new Client(secure.url).post('/api/v1/auth/signup', {
        email: 'tls@example.test',
        password: 'long enough pw',
        name: 'T',
      });
      expect(response.headers.get('strict-transport-security')).toContain('max-age=31536000');
      expect(response.headers.getSetCookie().join(';')).toMatch(/Secure/);
    } finally {
      await secure.close();
    }
  });
});

describe('failures', () => {
  it('answers a styled 500 page with the request id and JSON without a stack when the database is gone; /healthz names it', async () => {
    const broken = await startTestApp();
    try {
      await broken.platform.pool.end();
      const page = await new Client(broken.url).get('/', { ...html, 'x-request-id': 'req-500-test' });
      expect(page.status).toBe(500);
      expect(page.text).toContain('Something went wrong');
      expect(page.text).toContain('req-500-test');
      expect(page.text).not.toMatch(/\.(js|ts):\d+/);
      const api = await new Client(broken.url).get('/api/v1/events');
      expect(api.status).toBe(500);
      expect(api.body.error.code).toBe('internal_error');
      // Dependencies by name and state only: the error's text (hosts, users, driver messages) stays in the log.
      const health = await new Client(broken.url).get('/healthz');
      expect(health.status).toBe(503);
      expect(health.body).toEqual({ status: 'failing', checks: { database: 'failing', storage: 'ok' } });
    } finally {
      await broken.app.close();
      await broken.database.drop();
    }
  });

  /** GET with the path sent as written: node:http with a path option (fetch and URL strings normalise it first). */
  const raw = (path: string, accept = 'application/json') =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(t.url);
      http
        .get({ hostname, port, path, headers: { accept } }, (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
        })
        .on('error', reject);
    });

  it('refuses asset paths that climb out of the assets folder with a 403 or 404, never a 500', async () => {
    for (const path of ['/assets/../package.json', '/assets/%2e%2e/package.json', '/assets/..%2f..%2fetc/passwd']) {
      const response = await raw(path);
      expect([403, 404], `${path}: ${response.status} ${response.body}`).toContain(response.status);
      expect(JSON.parse(response.body).error.code, path).toMatch(/^(forbidden|not_found)$/);
      expect(response.body, path).not.toContain('"name": "epu"');
    }
  });

  it('answers a malformed address with 400 validation_failed in its own format, with the security headers and a request id', async () => {
    for (const path of ['/%zz', '/events/%E0%A4%A']) {
      const json = await raw(path);
      expect(json.status, path).toBe(400);
      expect(JSON.parse(json.body).error.code, path).toBe('validation_failed');
      expect(json.headers['x-frame-options'], path).toBe('SAMEORIGIN');
      expect(json.headers['content-security-policy'], path).toContain("default-src 'self'");
      expect(json.headers['x-request-id'], path).toBeTruthy();
      const page = await raw(path, 'text/html');
      expect(page.status, path).toBe(400);
      expect(page.headers['content-type'], path).toContain('text/html');
      expect(page.body, path).toContain('The address is not valid.');
    }
  });

  it('/meta names the build', async () => {
    const meta = await new Client(t.url).get('/meta');
    expect(Object.keys(meta.body).sort()).toEqual(['environment', 'gitSha', 'name', 'startedAt', 'version']);
    expect(meta.body).toMatchObject({ name: 'epu', environment: 'test' });
  });
});
