import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildWebApp, createPlatform, createServices, type Platform, type Services } from '../../src/app.js';
import { parseConfig, type Config } from '../../src/config/env.js';
import type { App } from '../../src/platform/http/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const TEST_SECRET = 'test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz';

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
    ...overrides,
  };
}

/** The real web app (every middleware on), listening on a free loopback port, on a database of its own. */
export async function startTestApp(overrides: Record<string, string> = {}, existing?: TestDatabase): Promise<TestApp> {
  const database = existing ?? (await createTestDatabase());
  const config = parseConfig(testEnv(database, overrides));
  const platform = await createPlatform(config, 'web');
  const services = createServices(platform);
  const shutdown = { requested: false };
  const app = await buildWebApp(platform, services, { isShuttingDown: () => shutdown.requested });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
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
