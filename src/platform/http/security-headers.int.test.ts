// The complete set of security headers the real web app sends, pinned to the
// values @fastify/helmet sent before decision 0015 replaced it.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../../../tests/support/app.js';
import { Client, type Response } from '../../../tests/support/client.js';
import { sendRaw, type RawRequest } from '../../../tests/support/raw-http.js';
import { startS3rver } from '../../../tests/support/s3rver.js';
import { FIXED_HEADERS, HSTS, HTTP_CSP } from '../../../tests/support/security-headers.js';
import { newObjectKey } from '../storage/storage.js';

const CSP = HTTP_CSP;
const EXPECTED = { 'content-security-policy': CSP, ...FIXED_HEADERS };
const HTTPS_EXPECTED = {
  ...EXPECTED,
  'content-security-policy': `${CSP};upgrade-insecure-requests`,
  'strict-transport-security': HSTS,
};
// Headers that must not appear: HSTS over http, and what helmet was told not to send or removed.
const ABSENT = ['strict-transport-security', 'cross-origin-embedder-policy', 'x-powered-by'];

/** The security part of a response: each expected header's value, and any header of ABSENT that shows up. */
function securityHeadersOf(response: Response, expected: Record<string, string>) {
  const names = new Set([...Object.keys(expected), ...ABSENT]);
  return Object.fromEntries([...names].flatMap((name) => (response.headers.has(name) ? [[name, response.headers.get(name)]] : [])));
}

const html = { accept: 'text/html' };
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

describe('security headers over http', () => {
  it('are complete on a page, a JSON response and the 404s', async () => {
    const client = new Client(t.url);
    const responses = {
      page: await client.get('/', html),
      json: await client.get('/api/v1/events'),
      notFoundPage: await client.get('/no/such/page', html),
      notFoundJson: await client.get('/api/v1/nothing'),
    };
    expect(Object.values(responses).map((r) => r.status)).toEqual([200, 200, 404, 404]);
    expect(responses.page.headers.get('content-type')).toContain('text/html');
    expect(responses.json.headers.get('content-type')).toContain('application/json');
    for (const response of Object.values(responses)) expect(securityHeadersOf(response, EXPECTED)).toEqual(EXPECTED);
  });

  it('are complete on refused and malformed requests', async () => {
    const client = new Client(t.url);
    const json = { 'content-type': 'application/json' };
    const responses = [
      await client.request('POST', '/api/v1/auth/signup', { headers: json, body: '{not json' }),
      // Just over the 100 KiB limit: small enough that the client has sent it all before the 413 closes the connection.
      await client.request('POST', '/api/v1/auth/signup', { headers: json, body: JSON.stringify({ padding: 'x'.repeat(101 * 1024) }) }),
      await client.request('POST', '/api/v1/auth/signup', { headers: { 'content-type': 'application/xml' }, body: '<signup/>' }),
      await client.post('/api/v1/auth/signup', {}),
      await client.get('/api/v1/events?limit=lots'),
      // Refused by the cross-site guard, an onRequest hook of its own.
      await client.post('/api/v1/events', {}, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }),
      await client.get('/api/v1/me'),
    ];
    expect(responses.map((r) => r.status)).toEqual([400, 413, 415, 400, 400, 403, 401]);
    for (const response of responses) expect(securityHeadersOf(response, EXPECTED)).toEqual(EXPECTED);
  });

  it('are complete, with a catalogue error, on requests the HTTP parser refuses (found by the fuzz tier)', async () => {
    const cases: [RawRequest, number, string][] = [
      [{ method: 'GET', target: '/api/v1/events', headers: [['x-bad', 'a\u0001b']] }, 400, 'validation_failed'],
      [{ method: 'GET', target: '/api/v1/events', headers: [['x-folded', 'a\r\n b']] }, 400, 'validation_failed'],
      [
        {
          method: 'POST',
          target: '/api/v1/auth/login',
          headers: [
            ['content-length', '2'],
            ['transfer-encoding', 'chunked'],
          ],
          body: Buffer.from('0\r\n\r\n'),
        },
        400,
        'validation_failed',
      ],
      [{ method: 'GET', target: `/api/v1/events?q=${'y'.repeat(70_000)}`, headers: [] }, 431, 'headers_too_large'],
    ];
    for (const [request, status, code] of cases) {
      const outcome = await sendRaw(t.config.port, request);
      if (!('response' in outcome)) throw new Error(`${request.target.slice(0, 40)}: ${outcome.noAnswer}`);
      const { response } = outcome;
      expect(response.status).toBe(status);
      expect(JSON.parse(response.body.toString())).toEqual({ error: { code, message: expect.any(String) } });
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      for (const [name, value] of Object.entries(EXPECTED)) expect(response.headers[name], name).toBe(value);
    }
  });

  it('are complete on static assets', async () => {
    const asset = await new Client(t.url).get('/assets/app.css');
    expect(asset.status).toBe(200);
    expect(securityHeadersOf(asset, EXPECTED)).toEqual(EXPECTED);
    const missing = await new Client(t.url).get('/assets/missing.css');
    expect(missing.status).toBe(404);
    expect(securityHeadersOf(missing, EXPECTED)).toEqual(EXPECTED);
  });

  it("keep the /media/ route's own sandboxing CSP, with every other header", async () => {
    const key = newObjectKey('originals', 'jpg');
    await t.platform.storage.put(key, Buffer.from('not really a jpeg'), { contentType: 'image/jpeg' });
    const link = new URL(await t.platform.storage.signedUrl(key, { expiresInSeconds: 600 }));
    const media = await new Client(t.url).get(link.pathname + link.search);
    expect(media.status).toBe(200);
    expect(securityHeadersOf(media, EXPECTED)).toEqual({ ...EXPECTED, 'content-security-policy': "default-src 'none'; sandbox" });
    // A refused link is an ordinary error response: the site's CSP.
    const refused = await new Client(t.url).get(`${link.pathname}?sig=forged`);
    expect(refused.status).toBe(403);
    expect(securityHeadersOf(refused, EXPECTED)).toEqual(EXPECTED);
  });
});

describe('security headers on server errors', () => {
  it('are complete on the 500 page and the 500 JSON when the database is gone', async () => {
    const broken = await startTestApp();
    try {
      await broken.platform.pool.end();
      const page = await new Client(broken.url).get('/', html);
      const json = await new Client(broken.url).get('/api/v1/events');
      expect([page.status, json.status]).toEqual([500, 500]);
      expect(json.body.error.code).toBe('internal_error');
      expect(securityHeadersOf(page, EXPECTED)).toEqual(EXPECTED);
      expect(securityHeadersOf(json, EXPECTED)).toEqual(EXPECTED);
    } finally {
      await broken.close();
    }
  });
});

describe('security headers of other deployments', () => {
  it('add HSTS and upgrade-insecure-requests when PUBLIC_URL is https, on pages, JSON and errors', async () => {
    const secure = await startTestApp({ PUBLIC_URL: 'https://epu.example' });
    try {
      const client = new Client(secure.url);
      const responses = [
        await client.get('/', html),
        await client.get('/api/v1/events'),
        await client.get('/nothing'),
        await client.post('/api/v1/auth/signup', {}),
      ];
      expect(responses.map((r) => r.status)).toEqual([200, 200, 404, 400]);
      for (const response of responses) expect(securityHeadersOf(response, HTTPS_EXPECTED)).toEqual(HTTPS_EXPECTED);
    } finally {
      await secure.close();
    }
  });

  it('let pages show images from the S3 endpoint and the CDN of an S3 deployment', async () => {
    const s3 = await startS3rver();
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY);
    let app: TestApp | undefined;
    try {
      app = await startTestApp({ ...s3.env, CDN_BASE_URL: 'https://cdn.example.test/epu/' });
      const page = await new Client(app.url).get('/', html);
      expect(page.status).toBe(200);
      const expected = {
        ...EXPECTED,
        'content-security-policy': CSP.replace(
          "img-src 'self' data: blob:",
          `img-src 'self' data: blob: https://cdn.example.test ${s3.endpoint}`,
        ),
      };
      expect(securityHeadersOf(page, expected)).toEqual(expected);
    } finally {
      await app?.close();
      await s3.close();
      vi.unstubAllEnvs();
    }
  });
});
