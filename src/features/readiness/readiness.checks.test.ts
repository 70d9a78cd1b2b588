import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { securityHeaders } from '../../platform/http/security-headers.js';
import { errorPage } from '../../ui/layout.js';
import { evaluateReadiness, READINESS_CHECKS, type Observations, type ReadinessCheck } from './readiness.checks.js';
import type { HttpAnswer } from './readiness.probe.js';

const NOW = new Date('2026-12-05T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const KEY = crypto.randomBytes(48).toString('base64');
const HEADERS = securityHeaders({ https: true, mediaOrigins: [] });

const answer = (status: number, headers: Record<string, string> = {}, body = '', setCookies: string[] = []): HttpAnswer => ({
  status,
  headers,
  setCookies,
  body,
});
const html = (status: number, body: string, headers: Record<string, string> = {}) =>
  answer(status, { 'content-type': 'text/html; charset=utf-8', ...HEADERS, ...headers }, body);
const json = (status: number, value: unknown) =>
  answer(status, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(value));

/** What a ready deployment shows: every check passes on it (the first test), and each case below changes one thing. */
function ready(): Observations {
  return {
    now: NOW,
    url: new URL('https://epu.example/'),
    insecure: false,
    http: {
      tls: { protocol: 'TLSv1.3', authorized: true, authorizationError: null, validTo: new Date(NOW.getTime() + 60 * DAY) },
      home: html(200, '<h1>Upcoming events</h1>'),
      login: html(200, '<form method="post"><input name="password" type="password"></form>'),
      logout: answer(204, {}, '', [
        'epu_session=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
      ]),
      notFound: html(404, errorPage({ status: 404, title: 'Page not found', message: 'There is nothing at this address.', viewer: null })),
      errorPage: html(
        404,
        errorPage({ status: 404, title: 'That did not work', message: 'Nothing here.', requestId: 'req-1', viewer: null }),
        {
          'x-request-id': 'req-1',
        },
      ),
      healthz: json(200, { status: 'ok', checks: { database: 'ok', storage: 'ok' } }),
      meta: json(200, { name: 'epu', version: '0.1.0', gitSha: 'f'.repeat(40), environment: 'production', startedAt: NOW.toISOString() }),
      metrics: html(404, errorPage({ status: 404, title: 'Page not found', message: '', viewer: null })),
      admin: [
        { path: '/api/v1/admin/stats', answer: json(401, { error: { code: 'not_signed_in' } }) },
        { path: '/api/v1/admin/audit', answer: json(401, { error: { code: 'not_signed_in' } }) },
        { path: '/api/v1/admin/flags', answer: json(401, { error: { code: 'not_signed_in' } }) },
        { path: '/admin', answer: answer(302, { location: '/login?next=/admin' }) },
      ],
    },
    expectedHeaders: HEADERS,
    release: { version: '0.1.0' },
    settings: {
      appEnv: 'production',
      publicUrl: new URL('https://epu.example'),
      secretKeys: [KEY],
      secrets: [
        { setting: 'SECRET_KEY (key 1)', value: KEY },
        { setting: 'the password in DATABASE_URL', value: 'db-pass-9f8e7d6c' },
      ],
    },
    data: {
      lastBackupAt: { value: ago(5 * HOUR) },
      lastPassedDrillAt: { value: ago(3 * DAY) },
      latestIntegrityRun: { value: { ranAt: ago(10 * HOUR), ok: true, failing: [] } },
      statsComputedAt: { value: ago(2 * 60_000) },
      schema: { value: { current: '0010', latest: '0010' } },
    },
    statsStaleMs: 30 * 60_000,
  };
}

function verdictOf(id: string, change: (o: Observations) => void) {
  const observations = ready();
  change(observations);
  return evaluateReadiness(observations).find((outcome) => outcome.id === id)!;
}

const withHeaders = (o: Observations, change: (headers: Record<string, string>) => void) => {
  const home = o.http.home as HttpAnswer;
  change(home.headers);
};

describe('readiness checks', () => {
  it('all pass on a ready deployment, with no fix shown', () => {
    const outcomes = evaluateReadiness(ready());
    expect(outcomes.filter((o) => o.status !== 'pass')).toEqual([]);
    expect(outcomes.every((o) => o.fix === undefined)).toBe(true);
  });

  it('have ids of their own and a fix each', () => {
    expect(new Set(READINESS_CHECKS.map((check) => check.id)).size).toBe(READINESS_CHECKS.length);
    for (const check of READINESS_CHECKS) expect(check.fix.length, check.id).toBeGreaterThan(20);
  });

  const cases: [string, string, (o: Observations) => void, 'warn' | 'fail', RegExp][] = [
    ['https', 'an http address', (o) => (o.url = new URL('http://epu.example/')), 'fail', /^http:\/\/epu\.example is not https$/],
    ['https', 'no connection', (o) => ((o.http.tls = null), (o.http.home = { error: 'connect ECONNREFUSED' })), 'fail', /ECONNREFUSED/],
    [
      'https',
      'a certificate not verified (--insecure)',
      (o) => (o.http.tls = { ...o.http.tls!, authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      'warn',
      /NOT verified.*SELF_SIGNED/,
    ],
    [
      'https',
      'a certificate about to end',
      (o) => (o.http.tls!.validTo = new Date(NOW.getTime() + 3 * DAY)),
      'warn',
      /renew it \(3 days left\)/,
    ],
    ['hsts', 'no HSTS', (o) => withHeaders(o, (h) => delete h['strict-transport-security']), 'fail', /no Strict-Transport-Security/],
    ['hsts', 'HSTS turned off', (o) => withHeaders(o, (h) => (h['strict-transport-security'] = 'max-age=0')), 'fail', /turns HSTS off/],
    ['hsts', 'a short HSTS', (o) => withHeaders(o, (h) => (h['strict-transport-security'] = 'max-age=86400')), 'warn', /under 180 days/],
    ['csp', 'no CSP', (o) => withHeaders(o, (h) => delete h['content-security-policy']), 'fail', /no Content-Security-Policy/],
    [
      'csp',
      'inline scripts allowed',
      (o) =>
        withHeaders(
          o,
          (h) =>
            (h['content-security-policy'] =
              "default-src 'self';script-src 'self' 'unsafe-inline';frame-ancestors 'none';object-src 'none'"),
        ),
      'fail',
      /scripts allowed from anywhere or inline/,
    ],
    [
      'csp',
      'framing allowed',
      (o) => withHeaders(o, (h) => (h['content-security-policy'] = "default-src 'self';object-src 'none'")),
      'fail',
      /frame-ancestors is not 'none'/,
    ],
    [
      'csp',
      'a sound policy other than this release sends',
      (o) => withHeaders(o, (h) => (h['content-security-policy'] = "default-src 'self';frame-ancestors 'none';object-src 'none'")),
      'warn',
      /differs from what this release sends/,
    ],
    [
      'security-headers',
      'a missing header',
      (o) => withHeaders(o, (h) => delete h['x-content-type-options']),
      'fail',
      /^missing on \/: x-content-type-options$/,
    ],
    [
      'security-headers',
      'a changed header',
      (o) => withHeaders(o, (h) => (h['referrer-policy'] = 'unsafe-url')),
      'warn',
      /referrer-policy: "unsafe-url"/,
    ],
    ['cookies', 'no cookie to look at', (o) => ((o.http.logout as HttpAnswer).setCookies = []), 'fail', /without the epu_session cookie/],
    [
      'cookies',
      'a cookie without Secure',
      (o) => ((o.http.logout as HttpAnswer).setCookies = ['epu_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax']),
      'fail',
      /not Secure/,
    ],
    [
      'cookies',
      'SameSite=None, readable by scripts',
      (o) => ((o.http.logout as HttpAnswer).setCookies = ['epu_session=; Path=/; Secure; SameSite=None']),
      'fail',
      /not HttpOnly, SameSite=none/,
    ],
    [
      'not-found-page',
      'a 200 for an unknown address',
      (o) => (o.http.notFound = html(200, '<h1>Upcoming events</h1>')),
      'fail',
      /answered 200, not 404/,
    ],
    [
      'not-found-page',
      "a proxy's 404",
      (o) => (o.http.notFound = html(404, '<center><h1>404 Not Found</h1></center><hr><center>nginx</center>')),
      'fail',
      /not EPU's page/,
    ],
    [
      'error-page',
      "a platform's error page",
      (o) => (o.http.errorPage = html(404, '<h1>Error</h1>', { 'x-request-id': 'req-1' })),
      'fail',
      /not EPU's page/,
    ],
    [
      'error-page',
      'no request id on the page',
      (o) =>
        (o.http.errorPage = html(404, errorPage({ status: 404, title: 'x', message: 'y', viewer: null }), { 'x-request-id': 'req-1' })),
      'fail',
      /does not show the request id/,
    ],
    [
      'healthz',
      'a failing dependency',
      (o) => (o.http.healthz = json(503, { status: 'failing', checks: { storage: 'failing' } })),
      'fail',
      /^503 .*storage/,
    ],
    [
      'meta',
      'no git sha',
      (o) => (o.http.meta = json(200, { version: '0.1.0', gitSha: null, environment: 'production' })),
      'fail',
      /without a git sha/,
    ],
    [
      'meta',
      'another release',
      (o) => (o.http.meta = json(200, { version: '0.2.0', gitSha: 'abc', environment: 'production' })),
      'warn',
      /this epu is 0\.1\.0/,
    ],
    [
      'metrics-private',
      'Prometheus text on the public port',
      (o) =>
        (o.http.metrics = answer(
          200,
          { 'content-type': 'text/plain' },
          '# HELP epu_http_requests_total Requests\n# TYPE epu_http_requests_total counter\n',
        )),
      'fail',
      /serves Prometheus metrics to anyone/,
    ],
    [
      'admin-anonymous',
      'an admin API answering',
      (o) => (o.http.admin[1]!.answer = json(200, { items: [] })),
      'fail',
      /^\/api\/v1\/admin\/audit answered 200/,
    ],
    [
      'admin-anonymous',
      'a redirect elsewhere',
      (o) => (o.http.admin[3]!.answer = answer(302, { location: '/' })),
      'fail',
      /\/admin answered 302/,
    ],
    [
      'no-secrets-in-html',
      'SECRET_KEY on a page',
      (o) => ((o.http.home as HttpAnswer).body += `<!-- ${KEY} -->`),
      'fail',
      /^SECRET_KEY \(key 1\) in \/$/,
    ],
    [
      'no-secrets-in-html',
      'the database password on a page',
      (o) => ((o.http.login as HttpAnswer).body += 'db-pass-9f8e7d6c'),
      'fail',
      /DATABASE_URL in \/login/,
    ],
    [
      'no-secrets-in-html',
      'a private key on a page',
      (o) => ((o.http.notFound as HttpAnswer).body += '-----BEGIN RSA PRIVATE KEY-----'),
      'fail',
      /a private key in the 404 page/,
    ],
    [
      'no-secrets-in-html',
      'a database URL',
      (o) => ((o.http.home as HttpAnswer).body += 'postgres://epu:hunter22@db:5432/epu'),
      'fail',
      /a database URL with a password in \//,
    ],
    ['backup', 'no backup', (o) => (o.data.lastBackupAt = { value: null }), 'fail', /no backup in storage/],
    ['backup', "today's due", (o) => (o.data.lastBackupAt = { value: ago(25 * HOUR) }), 'warn', /25 h old.*due or running/],
    ['backup', 'a stale backup', (o) => (o.data.lastBackupAt = { value: ago(2 * DAY) }), 'fail', /^newest backup 2 days old/],
    [
      'backup',
      'storage unreachable',
      (o) => (o.data.lastBackupAt = { error: 'Access Denied' }),
      'fail',
      /could not read the backups: Access Denied/,
    ],
    ['drill', 'no drill', (o) => (o.data.lastPassedDrillAt = { value: null }), 'fail', /no drill has passed/],
    ['drill', 'a drill missed', (o) => (o.data.lastPassedDrillAt = { value: ago(10 * DAY) }), 'warn', /10 days ago.*weekly/],
    ['drill', 'no drill for a month', (o) => (o.data.lastPassedDrillAt = { value: ago(40 * DAY) }), 'fail', /40 days ago/],
    ['integrity', 'never run', (o) => (o.data.latestIntegrityRun = { value: null }), 'fail', /no integrity check has run/],
    [
      'integrity',
      'problems found',
      (o) => (o.data.latestIntegrityRun = { value: { ranAt: ago(HOUR), ok: false, failing: ['missingObjects', 'overCapacity'] } }),
      'fail',
      /problems in missingObjects, overCapacity/,
    ],
    [
      'integrity',
      'an old run',
      (o) => (o.data.latestIntegrityRun = { value: { ranAt: ago(3 * DAY), ok: true, failing: [] } }),
      'warn',
      /runs nightly/,
    ],
    ['schedules', 'never computed', (o) => (o.data.statsComputedAt = { value: null }), 'fail', /never been computed/],
    ['schedules', 'stopped', (o) => (o.data.statsComputedAt = { value: ago(45 * 60_000) }), 'fail', /45 min ago/],
    [
      'migrations',
      'pending',
      (o) => (o.data.schema = { value: { current: '0009', latest: '0010' } }),
      'fail',
      /at 0009, this release needs 0010/,
    ],
    ['migrations', 'none applied', (o) => (o.data.schema = { value: { current: null, latest: '0010' } }), 'fail', /at no migration/],
    [
      'migrations',
      'an older epu',
      (o) => (o.data.schema = { value: { current: '0011', latest: '0010' } }),
      'warn',
      /newer than this epu knows/,
    ],
    ['app-env', 'development settings', (o) => (o.settings.appEnv = 'development'), 'fail', /APP_ENV=development/],
    [
      'app-env',
      'a deployment in another environment',
      (o) => (o.http.meta = json(200, { version: '0.1.0', gitSha: 'abc', environment: 'staging' })),
      'fail',
      /runs as staging/,
    ],
    ['secret-key', 'unset', (o) => (o.settings.secretKeys = []), 'fail', /not set/],
    [
      'secret-key',
      "docker-compose's key",
      (o) => (o.settings.secretKeys = ['local-compose-secret-key-change-me-0123456789abcdef']),
      'fail',
      /key 1 of 1 contains "local"/,
    ],
    ['secret-key', 'a weak old key', (o) => (o.settings.secretKeys = [KEY, 'x'.repeat(40)]), 'fail', /^key 2 of 2 about 0 bits/],
    [
      'public-url',
      "another deployment's settings",
      (o) => (o.settings.publicUrl = new URL('https://staging.epu.example')),
      'fail',
      /another deployment/,
    ],
    [
      'public-url',
      'an http PUBLIC_URL',
      (o) => ((o.url = new URL('http://epu.example/')), (o.settings.publicUrl = new URL('http://epu.example'))),
      'fail',
      /cookies are not Secure/,
    ],
  ];

  it.each(cases)('%s: %s', (id, _what, change, status, detail) => {
    const outcome = verdictOf(id, change);
    expect(outcome.status).toBe(status);
    expect(outcome.detail).toMatch(detail);
    expect(outcome.fix).toBe(READINESS_CHECKS.find((check) => check.id === id)!.fix);
  });

  it('never prints a secret it found', () => {
    const outcome = verdictOf('no-secrets-in-html', (o) => ((o.http.home as HttpAnswer).body += KEY));
    expect(JSON.stringify(outcome)).not.toContain(KEY);
  });

  it('report a check that throws as failed, and run the others', () => {
    const broken: ReadinessCheck = {
      id: 'broken',
      title: 'Broken',
      fix: 'Fix the check.',
      evaluate: () => {
        throw new Error('boom');
      },
    };
    const outcomes = evaluateReadiness(ready(), [broken, READINESS_CHECKS[0]!]);
    expect(outcomes).toEqual([
      { id: 'broken', title: 'Broken', status: 'fail', detail: 'the check itself failed: boom', fix: 'Fix the check.' },
      expect.objectContaining({ id: 'https', status: 'pass' }),
    ]);
  });
});
