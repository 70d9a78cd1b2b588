import fs from 'node:fs';
import path from 'node:path';
import { Type } from 'typebox';
import type { App } from './server.js';
import { ACCESS, Timestamp } from './api-schema.js';
import { packageJson, packageRoot } from '../paths.js';
import type { Logger } from '../observability/logger.js';

export type HealthCheck = () => Promise<'ok' | 'degraded'>;

export interface HealthReport {
  status: 'ok' | 'failing' | 'shutting_down';
  /** Each check by name: `ok`, `degraded` or `failing`. */
  checks: Record<string, string>;
}

const DEFAULT_CHECK_TIMEOUT_MS = 2000;

/**
 * Runs the checks together, each within `timeoutMs`: `failing` when any throws
 * or does not answer in time, `shutting_down` from the start of a shutdown.
 * The one judgement behind every /healthz (web, functions, and each role's
 * operations port), so that they all tell the same truth. Names and states
 * only: an error's text (hosts, users, driver details) goes to the log, not
 * to anyone who asks.
 */
export async function checkHealth(
  checks: Record<string, HealthCheck>,
  options: { isShuttingDown: () => boolean; log: Pick<Logger, 'warn'>; timeoutMs?: number },
): Promise<HealthReport> {
  if (options.isShuttingDown()) return { status: 'shutting_down', checks: { shutdown: 'in progress' } };
  const names = Object.keys(checks);
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const results = await Promise.allSettled(names.map((name) => withTimeout(checks[name]!(), timeoutMs)));
  const report: HealthReport = { status: 'ok', checks: {} };
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') report.checks[names[i]!] = result.value;
    else {
      report.status = 'failing';
      report.checks[names[i]!] = 'failing';
      options.log.warn({ check: names[i], err: result.reason }, 'readiness check failing');
    }
  });
  return report;
}

export interface HealthOptions {
  /** Named checks; a throwing check fails readiness, 'degraded' reports without failing. */
  checks: Record<string, HealthCheck>;
  isShuttingDown: () => boolean;
  environment: string;
  gitSha: string | undefined;
  checkTimeoutMs?: number;
}

/** GIT_SHA when the image was built with it; otherwise read from the checkout, if there is one. */
export function resolveGitSha(fromEnv: string | undefined): string | null {
  if (fromEnv) return fromEnv;
  try {
    const gitDir = path.join(packageRoot, '.git');
    const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    const loose = path.join(gitDir, ref);
    if (fs.existsSync(loose)) return fs.readFileSync(loose, 'utf8').trim();
    const packed = fs.readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
    return (
      packed
        .split('\n')
        .find((line) => line.endsWith(` ${ref}`))
        ?.split(' ')[0] ?? null
    );
  } catch {
    return null;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the check's own rejection, passed on as it is
        reject(error);
      },
    );
  });
}

const operation = { tags: ['operations'], security: ACCESS.anyone };
const Health = Type.Object({
  status: Type.String({ description: '`ok`, `failing` or `shutting_down`.' }),
  checks: Type.Record(Type.String(), Type.String(), {
    description: 'Each dependency by name, and its state: `ok`, `degraded` or `failing`.',
  }),
});

export function healthRoutes(app: App, options: HealthOptions): void {
  const startedAt = new Date().toISOString();
  const meta = {
    name: packageJson.name,
    version: packageJson.version,
    gitSha: resolveGitSha(options.gitSha),
    environment: options.environment,
    startedAt,
  };
  const timeout = options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;

  app.get(
    '/livez',
    {
      schema: {
        summary: 'Liveness: 200 while the process runs',
        ...operation,
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }),
  );

  const healthz = {
    summary: 'Readiness: 200 when the process can serve; 503 naming the failing check, and from the start of shutdown',
    ...operation,
    response: { 200: Health, 503: Health },
  };
  app.get('/healthz', { schema: healthz }, async (_request, reply) => {
    const report = await checkHealth(options.checks, { isShuttingDown: options.isShuttingDown, log: app.log, timeoutMs: timeout });
    return reply
      .header('cache-control', 'no-store')
      .code(report.status === 'ok' ? 200 : 503)
      .send(report);
  });

  const Meta = Type.Object({
    name: Type.String(),
    version: Type.String(),
    gitSha: Type.Union([Type.String(), Type.Null()]),
    environment: Type.String(),
    startedAt: Timestamp,
  });
  app.get('/meta', { schema: { summary: 'Which build this is', ...operation, response: { 200: Meta } } }, async () => meta);
}

/** Where a listener bound to `host` answers from this machine. */
function loopbackHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The health a listener reports at its own /healthz, asked over loopback as a
 * load balancer would ask it. The operations port of web and functions relays
 * it, so the container HEALTHCHECK proves that the serving listener accepts
 * connections and passes its checks. `address` is null while it does not listen.
 */
export function listenerHealth(
  address: () => { host: string; port: number } | null,
  // Longer than the listener's own checks take to time out, so that its answer names the check.
  timeoutMs = DEFAULT_CHECK_TIMEOUT_MS + 1000,
): () => Promise<HealthReport> {
  return async () => {
    const listener = address();
    if (!listener) return { status: 'failing', checks: { listener: 'failing' } };
    try {
      const response = await fetch(`http://${loopbackHost(listener.host)}:${listener.port}/healthz`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      const report = (await response.json()) as HealthReport;
      return response.ok || report.status !== 'ok' ? report : { ...report, status: 'failing' };
    } catch {
      return { status: 'failing', checks: { listener: 'failing' } };
    }
  };
}

/** The port a listening server is bound to. */
export function listeningPort(server: { address(): string | { port: number } | null }): number {
  return (server.address() as { port: number }).port;
}
