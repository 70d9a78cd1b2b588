import fs from 'node:fs';
import path from 'node:path';
import { Type } from 'typebox';
import type { App } from './server.js';
import { ACCESS, Timestamp } from './api-schema.js';
import { packageJson, packageRoot } from '../paths.js';

export type HealthCheck = () => Promise<'ok' | 'degraded'>;

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
  const timeout = options.checkTimeoutMs ?? 2000;

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
    reply.header('cache-control', 'no-store');
    if (options.isShuttingDown()) return reply.code(503).send({ status: 'shutting_down', checks: { shutdown: 'in progress' } });
    const names = Object.keys(options.checks);
    const results = await Promise.allSettled(names.map((name) => withTimeout(options.checks[name]!(), timeout)));
    const checks: Record<string, string> = {};
    let healthy = true;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') checks[names[i]!] = result.value;
      else {
        // Names and states only: an error's text (hosts, users, driver details) goes to the log, not to anyone who asks.
        healthy = false;
        checks[names[i]!] = 'failing';
        app.log.warn({ check: names[i], err: result.reason }, 'readiness check failing');
      }
    });
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'failing', checks });
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
