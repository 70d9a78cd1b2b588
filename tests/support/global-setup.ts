import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ensureEmbeddedPostgres } from '../../src/platform/db/embedded.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { createLogger } from '../../src/platform/observability/logger.js';
import { withDatabaseName } from './database.js';
import { freePort } from './process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    /** This run's databases share this prefix, so concurrent runs never drop each other's. */
    databasePrefix: string;
  }
}

const STALE_AFTER_SECONDS = 3 * 3600;

/**
 * Starts the test PostgreSQL (the embedded one by default; the machine's when
 * EPU_TEST_DB=external and TEST_DATABASE_URL is set) and builds a template
 * database with every migration applied, which each test file clones.
 */
export default async function setup(project: TestProject) {
  const logger = createLogger({ level: 'warn', pretty: false, name: 'test-setup' });
  let adminUrl: string;
  let stop = async () => undefined as void;
  let dataDir: string | undefined;
  if (process.env.EPU_TEST_DB === 'external') {
    if (!process.env.TEST_DATABASE_URL) throw new Error('EPU_TEST_DB=external needs TEST_DATABASE_URL');
    adminUrl = process.env.TEST_DATABASE_URL;
  } else {
    // A server of this run's own (fresh data directory, free port): runs side by side never share one.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-test-pg-'));
    const embedded = await ensureEmbeddedPostgres({ dataDir, port: await freePort(), logger });
    adminUrl = embedded.url;
    stop = embedded.stop;
  }

  const prefix = `epu_t${Math.floor(Date.now() / 1000)}_${process.pid}`;
  const template = `${prefix}_template`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // Databases of runs that were interrupted hours ago (the name carries the start time).
  const stale = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname ~ '^epu_t[0-9]+_'`);
  for (const { datname } of stale.rows) {
    const started = Number(datname.match(/^epu_t(\d+)_/)![1]);
    if (Date.now() / 1000 - started > STALE_AFTER_SECONDS) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();
  await migrate(withDatabaseName(adminUrl, template), logger);

  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('databasePrefix', prefix);
  return async () => {
    const cleanup = new pg.Client({ connectionString: adminUrl });
    await cleanup.connect();
    const mine = await cleanup.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${prefix}_%`]);
    for (const { datname } of mine.rows) await cleanup.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await cleanup.end();
    await stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
