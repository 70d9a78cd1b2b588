import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from './errors.js';
import { createHttpServer, type App } from './server.js';
import { createLogger } from '../observability/logger.js';
import { contentSecurityPolicy, securityHeaders } from './security-headers.js';
import { FIXED_HEADERS, HSTS, HTTP_CSP } from '../../../tests/support/security-headers.js';

describe('securityHeaders', () => {
  it('over http: the CSP, the fixed headers, no HSTS and no upgrade-insecure-requests', () => {
    expect(securityHeaders({ https: false, mediaOrigins: [] })).toEqual({ 'content-security-policy': HTTP_CSP, ...FIXED_HEADERS });
  });

  it('over https: adds HSTS (one year, subdomains) and upgrade-insecure-requests as the last directive', () => {
    expect(securityHeaders({ https: true, mediaOrigins: [] })).toEqual({
      'content-security-policy': `${HTTP_CSP};upgrade-insecure-requests`,
      ...FIXED_HEADERS,
      'strict-transport-security': HSTS,
    });
  });

  it('lets pages show images from the media origins of an S3 store and a CDN, in img-src only', () => {
    // What app.ts derives from CDN_BASE_URL=https://cdn.example.test/media and STORAGE_URL=s3://... (AWS or S3_ENDPOINT).
    for (const origins of [['https://cdn.example.test', 'https://*.amazonaws.com'], ['http://127.0.0.1:9000']]) {
      const csp = securityHeaders({ https: true, mediaOrigins: origins })['content-security-policy']!;
      const directives = csp.split(';');
      expect(directives).toContain(`img-src 'self' data: blob: ${origins.join(' ')}`);
      for (const origin of origins) expect(directives.filter((d) => d.includes(origin))).toHaveLength(1);
    }
  });

  it('refuses at startup a media origin that would end the directive or add another', () => {
    for (const bad of ['https://a.example;script-src *', 'https://a.example, https://b.example', 'https://a.example *', '']) {
      expect(() => contentSecurityPolicy({ https: false, mediaOrigins: [bad] })).toThrow(/invalid media origin/);
    }
  });

  it('is built once: a frozen object that requests share', () => {
    const headers = securityHeaders({ https: false, mediaOrigins: [] });
    expect(Object.isFrozen(headers)).toBe(true);
  });
});

describe('the security headers on an HTTP server', () => {
  const headers = securityHeaders({ https: true, mediaOrigins: ['https://cdn.example.test'] });
  let app: App;

  beforeAll(async () => {
    app = createHttpServer({
      requestTimeoutMs: 60_000,
      logger: createLogger({ level: 'silent', pretty: false, name: 'test' }),
      bodyLimit: 1024,
      trustProxy: false,
      headers,
      errorPages: { notFound: () => '<h1>Not found</h1>', error: (_request, status) => `<h1>${status}</h1>` },
    });
    app.get('/ok', async () => ({ ok: true }));
    app.get('/sandboxed', async (_request, reply) => reply.header('content-security-policy', "default-src 'none'; sandbox").send('bytes'));
    app.get('/forbidden', async () => {
      throw new AppError('forbidden');
    });
    app.get('/crash', async () => {
      throw new Error('boom');
    });
    app.post('/json', async (request) => request.body);
    await app.ready();
  });
  afterAll(() => app.close());

  const securityPart = (response: { headers: Record<string, unknown> }) =>
    Object.fromEntries(Object.keys(headers).map((name) => [name, response.headers[name]]));

  it('puts every header on routes, 404s, known errors, crashes and rejected bodies', async () => {
    const responses = await Promise.all([
      app.inject({ method: 'GET', url: '/ok' }),
      app.inject({ method: 'GET', url: '/missing' }),
      app.inject({ method: 'GET', url: '/forbidden' }),
      app.inject({ method: 'GET', url: '/crash' }),
      app.inject({ method: 'POST', url: '/json', headers: { 'content-type': 'application/json' }, payload: '{not json' }),
      app.inject({
        method: 'POST',
        url: '/json',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ big: 'x'.repeat(2048) }),
      }),
      app.inject({ method: 'POST', url: '/json', headers: { 'content-type': 'application/xml' }, payload: '<a/>' }),
    ]);
    expect(responses.map((r) => r.statusCode)).toEqual([200, 404, 403, 500, 400, 413, 415]);
    for (const response of responses) {
      expect(securityPart(response)).toEqual(headers);
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
  });

  it("leaves a route's own value for a header in place (set later in the lifecycle)", async () => {
    const response = await app.inject({ method: 'GET', url: '/sandboxed' });
    expect(response.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
    expect(securityPart(response)).toEqual({ ...headers, 'content-security-policy': "default-src 'none'; sandbox" });
    // The shared object is untouched for the next request.
    expect((await app.inject({ method: 'GET', url: '/ok' })).headers['content-security-policy']).toBe(headers['content-security-policy']);
  });
});
