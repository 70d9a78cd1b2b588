import pg from 'pg';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import type { Database } from './schema.js';

// count(*) and other bigints come back as numbers: no count here comes near 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface PoolSettings {
  connectionString: string;
  max: number;
  statementTimeoutMs: number;
  applicationName: string;
  /** How long to wait for a new connection; default 10 s. */
  connectionTimeoutMs?: number;
}

export function createPool(settings: PoolSettings): pg.Pool {
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    max: settings.max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: settings.connectionTimeoutMs ?? 10_000,
    statement_timeout: settings.statementTimeoutMs || undefined,
    application_name: settings.applicationName,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}

export type Db = Kysely<Database>;

/** Where a statement runs: the pool, or a transaction so that it commits with the rest of an action (its audit entry). */
export type Executor = Db | Transaction<Database>;

/**
 * Work the caller runs inside a write's own transaction, after the write (its
 * audit entry): it commits with the write, and its failure rolls the write back.
 */
export type WithinTransaction<Args extends unknown[] = []> = (tx: Transaction<Database>, ...args: Args) => Promise<void>;

export function createKysely(pool: pg.Pool): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
