// The readiness checklist (seed 000's "Before staging goes public" and "Before
// cutover" as a command): one table of checks, each a small pure function of
// what was observed, with the fix an operator applies when it fails. Gathering
// the observations (HTTP, database, storage, settings) is the command's job.
import { ADMIN_PATHS, isUnreachable, type Fetched, type HttpAnswer, type HttpObservations } from './readiness.probe.js';
import { estimatedBits, keyWeakness } from '../../config/secret-strength.js';

export type Status = 'pass' | 'warn' | 'fail';

export interface Verdict {
  status: Status;
  detail: string;
}

/** A fact read from the database or storage, or why it could not be read. */
export type Fact<T> = { value: T } | { error: string };

export interface DataFacts {
  lastBackupAt: Fact<Date | null>;
  lastPassedDrillAt: Fact<Date | null>;
  latestIntegrityRun: Fact<{ ranAt: Date; ok: boolean; failing: string[] } | null>;
  statsComputedAt: Fact<Date | null>;
  schema: Fact<{ current: string | null; latest: string | null }>;
}

export interface SettingsFacts {
  appEnv: string;
  publicUrl: URL;
  /** SECRET_KEY's keys, newest first; empty when unset. */
  secretKeys: string[];
  /** Values no page may show, by the setting they come from (SECRET_KEY, the database password, …). */
  secrets: { setting: string; value: string }[];
}

export interface Observations {
  now: Date;
  /** The address checked (--url). */
  url: URL;
  /** --insecure: the certificate was not verified. */
  insecure: boolean;
  http: HttpObservations;
  /** The security headers this release sends with these settings, by lower-case name. */
  expectedHeaders: Readonly<Record<string, string>>;
  release: { version: string };
  settings: SettingsFacts;
  data: DataFacts;
  /** Totals older than this mean the stats.aggregate schedule has stopped. */
  statsStaleMs: number;
}

export interface ReadinessCheck {
  id: string;
  title: string;
  /** What to do when it fails (or warns). */
  fix: string;
  evaluate(o: Observations): Verdict;
}

export interface CheckOutcome extends Verdict {
  id: string;
  title: string;
  /** Only when the check did not pass. */
  fix?: string;
}

const pass = (detail: string): Verdict => ({ status: 'pass', detail });
const warn = (detail: string): Verdict => ({ status: 'warn', detail });
const fail = (detail: string): Verdict => ({ status: 'fail', detail });

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The daily backup runs at 03:00 UTC; the EpuBackupTooOld alert allows it 2 hours more. */
const BACKUP_DUE_MS = DAY_MS;
const BACKUP_STALE_MS = 26 * HOUR_MS;
/** Drills run weekly (EpuDrillTooOld fires after 8 days); the checklist asks for one within a month. */
const DRILL_DUE_MS = 8 * DAY_MS;
const DRILL_STALE_MS = 31 * DAY_MS;
/** integrity.check runs nightly. */
const INTEGRITY_DUE_MS = 2 * DAY_MS;
/** Browsers' preload list asks for a year; under half of that is worth a warning. */
const HSTS_MIN_SECONDS = 180 * 86_400;
/** A certificate closer to its end than this is renewed now, not at the weekend. */
const CERTIFICATE_RENEW_MS = 14 * DAY_MS;

export function formatAge(ms: number): string {
  if (ms < 2 * HOUR_MS) return `${Math.max(0, Math.round(ms / 60_000))} min`;
  if (ms < 2 * DAY_MS) return `${Math.round(ms / HOUR_MS)} h`;
  return `${Math.round(ms / DAY_MS)} days`;
}

/** The answer, or the failure that says which request could not be made. */
function answered(fetched: Fetched, what: string): HttpAnswer | Verdict {
  return isUnreachable(fetched) ? fail(`${what}: ${fetched.error}`) : fetched;
}

const isVerdict = <T extends object>(value: T | Verdict): value is Verdict => 'status' in value && 'detail' in value;

function known<T>(fact: Fact<T>, what: string): { value: T } | Verdict {
  return 'error' in fact ? fail(`could not read ${what}: ${fact.error}`) : fact;
}

/**
 * A dated run (the newest backup, the last passed drill) by its age: none
 * fails, older than `staleMs` fails, older than `dueMs` warns with `due`.
 */
function byAge(
  now: Date,
  fact: { value: Date | null } | Verdict,
  rule: { none: string; summary: (age: string) => string; dueMs: number; due: string; staleMs: number },
): Verdict {
  if (isVerdict(fact)) return fact;
  if (!fact.value) return fail(rule.none);
  const age = now.getTime() - fact.value.getTime();
  const summary = `${rule.summary(formatAge(age))} (${fact.value.toISOString()})`;
  if (age > rule.staleMs) return fail(summary);
  if (age > rule.dueMs) return warn(`${summary}: ${rule.due}`);
  return pass(summary);
}

const isHtml = (answer: HttpAnswer) => (answer.headers['content-type'] ?? '').startsWith('text/html');
/** EPU's own error page (ui/layout.ts errorPage) with its stylesheet, not a proxy's or a platform's. */
const isEpuErrorPage = (answer: HttpAnswer) =>
  isHtml(answer) &&
  answer.body.includes('<section class="error-page">') &&
  /<link rel="stylesheet" href="[^"]*\/assets\//.test(answer.body);

function parseJson(answer: HttpAnswer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(answer.body);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `name value; name value` → values by directive name. */
export function cspDirectives(policy: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

/** Secrets spotted by their shape, whatever their setting. */
const SECRET_SHAPES: { name: string; pattern: RegExp }[] = [
  { name: 'a private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { name: 'a database URL with a password', pattern: /postgres(?:ql)?:\/\/[^\s:/@"'<>]+:[^\s@/"'<>]+@/i },
  { name: 'an AWS access key id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
];

export const READINESS_CHECKS: readonly ReadinessCheck[] = [
  {
    id: 'https',
    title: 'HTTPS',
    fix: 'Serve EPU over HTTPS only (TLS at the load balancer, a managed certificate) and check https://…; for a certificate of your own CA pass --ca FILE.',
    evaluate(o) {
      if (o.url.protocol !== 'https:') return fail(`${o.url.origin} is not https`);
      const tls = o.http.tls;
      if (!tls) return fail(isUnreachable(o.http.home) ? `no TLS connection: ${o.http.home.error}` : 'no TLS session seen');
      const until = tls.validTo ? `certificate valid until ${tls.validTo.toISOString().slice(0, 10)}` : 'no certificate end date';
      if (!tls.authorized)
        return warn(`${tls.protocol ?? 'TLS'}, certificate NOT verified (--insecure: ${tls.authorizationError}), ${until}`);
      if (tls.validTo && tls.validTo.getTime() - o.now.getTime() < CERTIFICATE_RENEW_MS)
        return warn(`${tls.protocol}, ${until}: renew it (${formatAge(tls.validTo.getTime() - o.now.getTime())} left)`);
      return pass(`${tls.protocol}, ${until}`);
    },
  },
  {
    id: 'hsts',
    title: 'HSTS',
    fix: 'Set PUBLIC_URL to the https:// address (EPU sends Strict-Transport-Security only then) and let the proxy pass the header on.',
    evaluate(o) {
      const home = answered(o.http.home, 'GET /');
      if (isVerdict(home)) return home;
      const value = home.headers['strict-transport-security'];
      const maxAge = Number(value?.match(/max-age="?(\d+)/i)?.[1] ?? 0);
      if (!value || maxAge === 0) return fail(value ? `"${value}" turns HSTS off` : 'no Strict-Transport-Security header on /');
      if (maxAge < HSTS_MIN_SECONDS) return warn(`max-age=${maxAge} is under 180 days: "${value}"`);
      return pass(value);
    },
  },
  {
    id: 'csp',
    title: 'Content-Security-Policy',
    fix: "Pass the app's Content-Security-Policy through unchanged (nginx: no proxy_hide_header, no add_header that replaces it); see SECURITY.md.",
    evaluate(o) {
      const home = answered(o.http.home, 'GET /');
      if (isVerdict(home)) return home;
      const policy = home.headers['content-security-policy'];
      if (!policy) return fail('no Content-Security-Policy header on /');
      const directives = cspDirectives(policy);
      const scripts = directives.get('script-src') ?? directives.get('default-src');
      const problems = [
        ...(directives.has('default-src') ? [] : ['no default-src']),
        ...(!scripts
          ? ['no script-src']
          : scripts.some((v) => v === "'unsafe-inline'" || v === '*')
            ? ['scripts allowed from anywhere or inline']
            : []),
        ...(directives.get('frame-ancestors')?.includes("'none'") ? [] : ["frame-ancestors is not 'none'"]),
        ...(directives.get('object-src')?.includes("'none'") ? [] : ["object-src is not 'none'"]),
      ];
      if (problems.length) return fail(`${problems.join('; ')}: "${policy}"`);
      const expected = o.expectedHeaders['content-security-policy'];
      if (expected && policy !== expected)
        return warn(`differs from what this release sends with these settings ("${expected}"): "${policy}"`);
      return pass(`${directives.size} directives, as this release sends them`);
    },
  },
  {
    id: 'security-headers',
    title: 'Other security headers',
    fix: "A proxy or CDN in front of EPU drops or rewrites them: pass the app's response headers through unchanged.",
    evaluate(o) {
      const home = answered(o.http.home, 'GET /');
      if (isVerdict(home)) return home;
      const names = Object.keys(o.expectedHeaders).filter(
        (name) => name !== 'content-security-policy' && name !== 'strict-transport-security',
      );
      const missing = names.filter((name) => home.headers[name] === undefined);
      if (missing.length) return fail(`missing on /: ${missing.join(', ')}`);
      const different = names.filter((name) => home.headers[name] !== o.expectedHeaders[name]);
      if (different.length)
        return warn(
          `different from this release's: ${different.map((name) => `${name}: "${home.headers[name]}" (expected "${o.expectedHeaders[name]}")`).join('; ')}`,
        );
      return pass(`${names.length} headers present: ${names.join(', ')}`);
    },
  },
  {
    id: 'cookies',
    title: 'Session cookie flags',
    fix: 'PUBLIC_URL must be the https:// address (EPU marks the session cookie Secure only then), and nothing in front of EPU may rewrite Set-Cookie.',
    evaluate(o) {
      const logout = answered(o.http.logout, 'POST /api/v1/auth/logout');
      if (isVerdict(logout)) return logout;
      const cookie = logout.setCookies.find((line) => line.startsWith('epu_session='));
      if (!cookie)
        return fail(`POST /api/v1/auth/logout answered ${logout.status} without the epu_session cookie, whose flags are checked there`);
      const attributes = cookie
        .split(';')
        .slice(1)
        .map((attribute) => attribute.trim().toLowerCase());
      const sameSite = attributes.find((a) => a.startsWith('samesite='))?.slice('samesite='.length);
      const problems = [
        ...(attributes.includes('secure') ? [] : ['not Secure']),
        ...(attributes.includes('httponly') ? [] : ['not HttpOnly']),
        ...(sameSite === 'lax' || sameSite === 'strict' ? [] : [`SameSite=${sameSite ?? 'missing'}`]),
      ];
      if (problems.length) return fail(`epu_session is ${problems.join(', ')}`);
      return pass(`epu_session: Secure, HttpOnly, SameSite=${sameSite === 'lax' ? 'Lax' : 'Strict'}`);
    },
  },
  {
    id: 'not-found-page',
    title: 'Custom 404 page',
    fix: 'Let EPU answer unknown addresses itself: no error_page or proxy_intercept_errors in nginx, no custom error response at the load balancer or CDN.',
    evaluate(o) {
      const page = answered(o.http.notFound, 'GET of an unknown address');
      if (isVerdict(page)) return page;
      if (page.status !== 404) return fail(`an unknown address answered ${page.status}, not 404`);
      if (!isEpuErrorPage(page))
        return fail(`the 404 is not EPU's page (${page.headers['content-type'] ?? 'no content type'}, ${page.body.length} bytes)`);
      return pass("404 with EPU's page");
    },
  },
  {
    id: 'error-page',
    title: 'Custom error (500) page',
    fix: "Let EPU's error pages through: no error_page or proxy_intercept_errors in nginx, no custom error response at the load balancer or CDN.",
    evaluate(o) {
      // A 500 cannot be caused from outside on purpose; the app's error handler renders every error
      // with the same page, so a refused request shows whether that page reaches the visitor.
      const page = answered(o.http.errorPage, 'GET of an unknown event');
      if (isVerdict(page)) return page;
      const requestId = page.headers['x-request-id'];
      if (page.status < 400) return fail(`an unknown event answered ${page.status}`);
      if (!isEpuErrorPage(page))
        return fail(`an error (${page.status}) is not EPU's page (${page.headers['content-type'] ?? 'no content type'})`);
      if (!requestId || !page.body.includes(`Request id: <code>${requestId}</code>`))
        return fail(
          `the error page (${page.status}) does not show the request id${requestId ? '' : ' and no x-request-id header came back'}`,
        );
      return pass(`an error (${page.status}) answers EPU's page with the request id, as a 500 does`);
    },
  },
  {
    id: 'healthz',
    title: '/healthz',
    fix: 'The body names the failing check (database, storage, cache): see RUNBOOK.md "Target down" and "Storage errors".',
    evaluate(o) {
      const answer = answered(o.http.healthz, 'GET /healthz');
      if (isVerdict(answer)) return answer;
      const body = parseJson(answer);
      if (answer.status !== 200 || body?.status !== 'ok') return fail(`${answer.status} ${answer.body.slice(0, 200)}`);
      return pass(`200 ${JSON.stringify(body.checks ?? {})}`);
    },
  },
  {
    id: 'meta',
    title: '/meta (version and git sha)',
    fix: 'Build the image with its commit: docker build --build-arg GIT_SHA=$(git rev-parse HEAD) (CI does), or set GIT_SHA.',
    evaluate(o) {
      const answer = answered(o.http.meta, 'GET /meta');
      if (isVerdict(answer)) return answer;
      const meta = parseJson(answer);
      if (answer.status !== 200 || !meta) return fail(`GET /meta answered ${answer.status} ${answer.body.slice(0, 200)}`);
      if (typeof meta.version !== 'string') return fail('no version in /meta');
      if (typeof meta.gitSha !== 'string' || meta.gitSha === '')
        return fail(`version ${meta.version} without a git sha: which build is this?`);
      const serving = `version ${meta.version}, git sha ${meta.gitSha}`;
      if (meta.version !== o.release.version)
        return warn(`${serving}; this epu is ${o.release.version}, so its checks may not fit that release`);
      return pass(serving);
    },
  },
  {
    id: 'metrics-private',
    title: 'Metrics not on the public port',
    fix: 'Expose only PORT: METRICS_PORT stays inside the network (Prometheus scrapes it there); remove any route for /metrics from the ingress or load balancer.',
    evaluate(o) {
      const answer = answered(o.http.metrics, 'GET /metrics');
      if (isVerdict(answer)) return answer;
      if (answer.status === 200 && /^# (HELP|TYPE) /m.test(answer.body))
        return fail(`GET ${o.url.origin}/metrics serves Prometheus metrics to anyone`);
      return pass(`GET /metrics answers ${answer.status}`);
    },
  },
  {
    id: 'admin-anonymous',
    title: 'Admin endpoints refuse anonymous callers',
    fix: 'Do not go public: an admin endpoint answers without a session. Look for a proxy rule or cache that serves it, or a regression in the admin routes.',
    evaluate(o) {
      const problems: string[] = [];
      const refusals: string[] = [];
      for (const { path, answer } of o.http.admin) {
        if (isUnreachable(answer)) problems.push(`${path}: ${answer.error}`);
        else if ([401, 403, 404].includes(answer.status)) refusals.push(`${path} ${answer.status}`);
        else if (answer.status >= 300 && answer.status < 400 && /\/login\b/.test(answer.headers.location ?? ''))
          refusals.push(`${path} → ${answer.headers.location}`);
        else problems.push(`${path} answered ${answer.status} to an anonymous caller`);
      }
      if (problems.length) return fail(problems.join('; '));
      if (refusals.length < ADMIN_PATHS.length) return fail('not every admin endpoint was asked');
      return pass(refusals.join(', '));
    },
  },
  {
    id: 'no-secrets-in-html',
    title: 'No secret in the HTML',
    fix: 'Remove it from the page, then rotate that secret (RUNBOOK.md "Rotate secrets"): treat it as published.',
    evaluate(o) {
      const pages: [string, Fetched][] = [
        ['/', o.http.home],
        ['/login', o.http.login],
        ['the 404 page', o.http.notFound],
        ['the error page', o.http.errorPage],
      ];
      const found: string[] = [];
      let read = 0;
      for (const [name, fetched] of pages) {
        if (isUnreachable(fetched)) continue;
        read++;
        for (const { setting, value } of o.settings.secrets)
          if (value.length >= 8 && fetched.body.includes(value)) found.push(`${setting} in ${name}`);
        for (const { name: shape, pattern } of SECRET_SHAPES) if (pattern.test(fetched.body)) found.push(`${shape} in ${name}`);
      }
      if (found.length) return fail(found.join('; '));
      if (read === 0) return fail('no page could be read');
      return pass(`${read} pages hold none of ${o.settings.secrets.length} secret value(s) nor a key, password URL or access key id`);
    },
  },
  {
    id: 'backup',
    title: 'A backup from the last day',
    fix: 'Is a worker running (backup.create runs daily at 03:00 UTC)? Run `epu backup` now and see RUNBOOK.md "Backup too old".',
    evaluate(o) {
      return byAge(o.now, known(o.data.lastBackupAt, 'the backups'), {
        none: 'no backup in storage',
        summary: (age) => `newest backup ${age} old`,
        dueMs: BACKUP_DUE_MS,
        due: "today's is due or running",
        staleMs: BACKUP_STALE_MS,
      });
    },
  },
  {
    id: 'drill',
    title: 'A passed restore drill within a month',
    fix: 'Run `epu drill` (restores the newest backup into a scratch database and verifies it) and read RUNBOOK.md "Drill too old".',
    evaluate(o) {
      return byAge(o.now, known(o.data.lastPassedDrillAt, 'the drills'), {
        none: 'no drill has passed yet',
        summary: (age) => `last passed drill ${age} ago`,
        dueMs: DRILL_DUE_MS,
        due: 'drills are weekly',
        staleMs: DRILL_STALE_MS,
      });
    },
  },
  {
    id: 'integrity',
    title: 'Latest integrity check clean',
    fix: 'Run `epu check` and follow RUNBOOK.md "Integrity problems" for each check it names.',
    evaluate(o) {
      const fact = known(o.data.latestIntegrityRun, 'the integrity runs');
      if (isVerdict(fact)) return fact;
      const run = fact.value;
      if (!run) return fail('no integrity check has run');
      const age = formatAge(o.now.getTime() - run.ranAt.getTime());
      if (!run.ok) return fail(`the run of ${age} ago found problems in ${run.failing.join(', ') || 'a check'}`);
      if (o.now.getTime() - run.ranAt.getTime() > INTEGRITY_DUE_MS) return warn(`clean, but ${age} old: integrity.check runs nightly`);
      return pass(`clean, ${age} ago`);
    },
  },
  {
    id: 'schedules',
    title: 'Schedules running (stats computed recently)',
    fix: 'Start a worker (`epu worker`): schedules run in workers only. Then `epu jobs list --status dead` for a failing stats.aggregate.',
    evaluate(o) {
      const fact = known(o.data.statsComputedAt, 'the stats');
      if (isVerdict(fact)) return fact;
      if (!fact.value) return fail('the stats have never been computed: no worker has run the schedules');
      const age = o.now.getTime() - fact.value.getTime();
      if (age > o.statsStaleMs) return fail(`stats last computed ${formatAge(age)} ago; stats.aggregate runs every 5 minutes`);
      return pass(`stats computed ${formatAge(age)} ago`);
    },
  },
  {
    id: 'migrations',
    title: 'Migrations up to date',
    fix: 'Run `epu migrate` (the release step, section 2 of DEPLOYMENT.md) with this release.',
    evaluate(o) {
      const fact = known(o.data.schema, 'the schema version');
      if (isVerdict(fact)) return fact;
      const { current, latest } = fact.value;
      if (current === latest) return pass(`schema ${current}, the latest of this release`);
      if (current === null || (latest !== null && current < latest))
        return fail(`the database is at ${current ?? 'no migration'}, this release needs ${latest}`);
      return warn(`the database is at ${current}, newer than this epu knows (${latest}): run the deployment's release of epu`);
    },
  },
  {
    id: 'app-env',
    title: 'APP_ENV is staging or production',
    fix: 'Set APP_ENV=production (staging on staging) on every process, and run readiness with the same settings.',
    evaluate(o) {
      const { appEnv } = o.settings;
      if (appEnv !== 'production' && appEnv !== 'staging') return fail(`APP_ENV=${appEnv} in these settings`);
      const meta = isUnreachable(o.http.meta) ? null : parseJson(o.http.meta);
      const serving = typeof meta?.environment === 'string' ? meta.environment : null;
      if (serving === null) return fail(`APP_ENV=${appEnv} here, but /meta does not say which environment is serving`);
      if (serving !== appEnv) return fail(`APP_ENV=${appEnv} here, but the deployment runs as ${serving}`);
      return pass(`APP_ENV=${appEnv}, and /meta says so too`);
    },
  },
  {
    id: 'secret-key',
    title: 'SECRET_KEY strength',
    fix: 'Put a key from `openssl rand -base64 48` first in SECRET_KEY, keep the old one after it until sessions have moved on, then drop it (RUNBOOK.md "Rotate secrets").',
    evaluate(o) {
      const keys = o.settings.secretKeys;
      if (keys.length === 0) return fail('SECRET_KEY is not set in these settings');
      const weak = keys.map((key, i) => [i, keyWeakness(key)] as const).filter(([, weakness]) => weakness);
      // Old keys still open cookies: a weak one lets a session be forged just the same.
      if (weak.length) return fail(weak.map(([i, weakness]) => `key ${i + 1} of ${keys.length} ${weakness}`).join('; '));
      return pass(`${keys.length} key(s), each about ${Math.round(Math.min(...keys.map(estimatedBits)))}+ bits`);
    },
  },
  {
    id: 'public-url',
    title: "Settings are this deployment's",
    fix: "Run readiness with the settings of the deployment checked (its web's environment), where PUBLIC_URL is that https:// address.",
    evaluate(o) {
      const { publicUrl } = o.settings;
      if (publicUrl.origin !== o.url.origin)
        return fail(`PUBLIC_URL is ${publicUrl.origin}, not ${o.url.origin}: the database checks are of another deployment`);
      if (publicUrl.protocol !== 'https:') return fail(`PUBLIC_URL is ${publicUrl.origin}: cookies are not Secure and no HSTS is sent`);
      return pass(`PUBLIC_URL is ${publicUrl.origin}`);
    },
  },
];

/** Every check, in the table's order; a check that throws fails with its error instead of stopping the rest. */
export function evaluateReadiness(o: Observations, checks: readonly ReadinessCheck[] = READINESS_CHECKS): CheckOutcome[] {
  return checks.map((check) => {
    let verdict: Verdict;
    try {
      verdict = check.evaluate(o);
    } catch (error) {
      verdict = fail(`the check itself failed: ${(error as Error).message}`);
    }
    return { id: check.id, title: check.title, ...verdict, ...(verdict.status === 'pass' ? {} : { fix: check.fix }) };
  });
}
