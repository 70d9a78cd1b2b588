import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { migrationsDir } from '../paths.js';
import type { Logger } from '../observability/logger.js';

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
  /** Statements such as CREATE INDEX CONCURRENTLY cannot run in a transaction. */
  transactional: boolean;
}

// Any fixed number works; it only has to be the same for every replica.
const MIGRATION_LOCK_KEY = 7_317_001;

export function readMigrations(dir = migrationsDir): Migration[] {
  const migrations = fs
    .readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = fs.readFileSync(path.join(dir, file), 'utf8');
      return {
        version: file.slice(0, 4),
        name: file.replace(/\.sql$/, ''),
        sql,
        checksum: crypto.createHash('sha256').update(sql).digest('hex'),
        transactional: !/^--\s*epu:no-transaction/m.test(sql),
      };
    });
  // Branches developed side by side can each take the next number; the version is the key of schema_migrations.
  const seen = new Map<string, string>();
  for (const migration of migrations) {
    const other = seen.get(migration.version);
    if (other) throw new Error(`migrations ${other} and ${migration.name} share version ${migration.version}: renumber the newer one`);
    seen.set(migration.version, migration.name);
  }
  return migrations;
}

/** Splits a file of simple statements (no function bodies) at semicolons that end a line. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((statement) => statement.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}

export interface MigrationResult {
  applied: string[];
  schemaVersion: string | null;
}

/**
 * Applies pending migrations, forward only, under a session advisory lock so
 * that replicas starting together apply each migration exactly once. An
 * applied migration whose file changed is an error: fix forward with a new file.
 * `targetVersion` stops there (a restore rebuilds the schema its backup was taken at).
 */
export async function migrate(
  connectionString: string,
  logger: Logger,
  dir = migrationsDir,
  options: { targetVersion?: string } = {},
): Promise<MigrationResult> {
  const all = readMigrations(dir);
  const targetIndex = options.targetVersion === undefined ? all.length - 1 : all.findIndex((m) => m.version === options.targetVersion);
  if (options.targetVersion !== undefined && targetIndex < 0)
    throw new Error(
      `there is no migration ${options.targetVersion}; this release knows ${all[0]?.version ?? 'none'} to ${all.at(-1)?.version ?? 'none'}`,
    );
  const migrations = all.slice(0, targetIndex + 1);
  const client = new pg.Client({ connectionString, application_name: 'epu-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: string; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations',
    );
    const applied = new Map(rows.map((row) => [row.version, row]));
    const done: string[] = [];
    for (const migration of migrations) {
      const previous = applied.get(migration.version);
      if (previous) {
        if (previous.checksum !== migration.checksum) {
          throw new Error(`migration ${migration.name} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      logger.info({ migration: migration.name }, 'applying migration');
      if (migration.transactional) await client.query('BEGIN');
      try {
        if (migration.transactional) await client.query(migration.sql);
        // Several statements in one query run as one implicit transaction, which
        // CREATE INDEX CONCURRENTLY refuses: these files run statement by statement.
        else for (const statement of splitStatements(migration.sql)) await client.query(statement);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        if (migration.transactional) await client.query('COMMIT');
      } catch (error) {
        if (migration.transactional) await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      done.push(migration.name);
    }
    return { applied: done, schemaVersion: migrations.at(-1)?.version ?? null };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

export async function currentSchemaVersion(pool: pg.Pool): Promise<string | null> {
  const { rows } = await pool.query<{ version: string }>('SELECT max(version) AS version FROM schema_migrations');
  return rows[0]?.version ?? null;
}

/**
 * Servers refuse to run against a schema older than their code. On the embedded
 * default there is no release step, so the schema is brought up to date here.
 */
export async function ensureSchemaCurrent(options: { connectionString: string; embedded: boolean; logger: Logger }): Promise<void> {
  const latest = readMigrations().at(-1)?.version ?? null;
  const client = new pg.Client({ connectionString: options.connectionString });
  await client.connect();
  let current: string | null;
  try {
    // Two statements: a single CASE would still resolve the table name at parse time and fail on a fresh database.
    const exists = await client.query<{ name: string | null }>(`SELECT to_regclass('schema_migrations')::text AS name`);
    const { rows } = exists.rows[0]?.name
      ? await client.query<{ version: string | null }>('SELECT max(version) AS version FROM schema_migrations')
      : { rows: [] as { version: string | null }[] };
    current = rows[0]?.version ?? null;
  } finally {
    await client.end();
  }
  if (current === latest) return;
  if (options.embedded) {
    await migrate(options.connectionString, options.logger);
    return;
  }
  throw new Error(`the database schema is at ${current ?? 'nothing'} but this release needs ${latest}: run \`epu migrate\` first`);
}
