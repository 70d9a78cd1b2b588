import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ensureEmbeddedPostgres } from '../../src/platform/db/embedded.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { createLogger } from '../../src/platform/observability/logger.js';
import { TEMPLATE_DATABASE, withDatabaseName } from './database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

/**
 * Starts the test PostgreSQL (the embedded one by default; the machine's when
 * EPU_TEST_DB=external and TEST_DATABASE_URL is set) and builds a template
 * database with every migration applied, which each test file clones.
 */
export default async function setup(project: TestProject) {
  const logger = createLogger({ level: 'warn', pretty: false, name: 'test-setup' });
  let adminUrl: string;
  let stop = async () => undefined as void;
  if (process.env.EPU_TEST_DB === 'external') {
    if (!process.env.TEST_DATABASE_URL) throw new Error('EPU_TEST_DB=external needs TEST_DATABASE_URL');
    adminUrl = process.env.TEST_DATABASE_URL;
  } else {
    const embedded = await ensureEmbeddedPostgres({
      dataDir: path.resolve('.epu/test'),
      port: Number(process.env.EPU_TEST_PG_PORT ?? 54330),
      logger,
    });
    adminUrl = embedded.url;
    stop = embedded.stop;
  }

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // Databases left by an interrupted earlier run.
  const stale = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'epu_test_%'`);
  for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  await migrate(withDatabaseName(adminUrl, TEMPLATE_DATABASE), logger);

  project.provide('adminDatabaseUrl', adminUrl);
  return async () => {
    const cleanup = new pg.Client({ connectionString: adminUrl });
    await cleanup.connect();
    const left = await cleanup.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'epu_test_%'`);
    for (const { datname } of left.rows) await cleanup.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await cleanup.end();
    await stop();
  };
}
