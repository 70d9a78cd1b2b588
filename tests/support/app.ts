import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildWebApp, createJobHandlers, createPlatform, createServices, type Platform, type Services } from '../../src/app.js';
import { createWorker } from '../../src/platform/queue/index.js';
import { parseConfig, type Config } from '../../src/config/env.js';
import type { App } from '../../src/platform/http/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort } from './process.js';

// Drawn once (openssl rand -base64 48), so tests that run as staging or production start with it too.
export const TEST_SECRET = 'fjc0td3PXHi1A6cHfdqujng9XO1XPpUTunXvAtqXxJmbNq63gl638nOYkh8nRR62';

export interface TestApp {
  url: string;
  app: App;
  platform: Platform;
  services: Services;
  config: Config;
  database: TestDatabase;
  shutdown: { requested: boolean };
  close(): Promise<void>;
}

/** Settings of a test process: its own database and data directory, quiet logs. */
export function testEnv(database: TestDatabase, overrides: Record<string, string> = {}): Record<string, string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-test-'));
  return {
    APP_ENV: 'test',
    DATABASE_URL: database.url,
    EPU_DATA_DIR: dataDir,
    SECRET_KEY: TEST_SECRET,
    LOG_LEVEL: 'silent',
    PORT: '0',
    METRICS_PORT: '0',
    FUNCTIONS_PORT: '0',
    // Every test signs its users up from 127.0.0.1 and a few users do all the uploading and exporting; each
    // limit has its own tests (accounts.abuse, photos.limits, exports.limits) and the fuzz tier's fixtures must not meet them.
    SIGNUP_RATE_LIMIT: '1000000',
    UPLOAD_RATE_LIMIT: '100000',
    EXPORT_RATE_LIMIT: '100000',
    ...overrides,
  };
}

/** The real web app (every middleware on), listening on a free loopback port, on a database of its own. */
export async function startTestApp(overrides: Record<string, string> = {}, existing?: TestDatabase): Promise<TestApp> {
  const database = existing ?? (await createTestDatabase());
  // A known port up front, so PUBLIC_URL (and every absolute URL the app makes) points at this server.
  const port = await freePort();
  const config = parseConfig(testEnv(database, { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...overrides }));
  const platform = await createPlatform(config, 'web');
  const services = createServices(platform);
  const shutdown = { requested: false };
  const app = await buildWebApp(platform, services, { isShuttingDown: () => shutdown.requested });
  await app.listen({ host: '127.0.0.1', port });
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    platform,
    services,
    config,
    database,
    shutdown,
    async close() {
      await app.close();
      await platform.close();
      if (!existing) await database.drop();
    },
  };
}

/** A worker in the test process running every job handler, polling fast and retrying quickly. */
export function startTestWorker(t: Pick<TestApp, 'platform'>, options: { retryBaseMs?: number } = {}) {
  const worker = createWorker({
    queue: t.platform.queue,
    pool: t.platform.pool,
    handlers: createJobHandlers(t.platform),
    concurrency: 4,
    pollIntervalMs: 100,
    leaseSeconds: 10,
    retryBaseMs: options.retryBaseMs ?? 100,
    logger: t.platform.logger,
  });
  worker.start();
  return worker;
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
