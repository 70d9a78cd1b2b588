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
  /** DATABASE_PREPARED_STATEMENTS: how many distinct statements to prepare (0: none); see preparingClient. */
  preparedStatements?: number;
}

export function createPool(settings: PoolSettings): pg.Pool {
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    max: settings.max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: settings.connectionTimeoutMs ?? 10_000,
    statement_timeout: settings.statementTimeoutMs || undefined,
    application_name: settings.applicationName,
    ...(settings.preparedStatements ? { Client: preparingClient(settings.preparedStatements) } : {}),
  });
  // A client losing its connection (database restart, failover) must not crash the process: when idle,
  // the pool hears it; when checked out between two statements, no query is there to take the error, and
  // an 'error' event without a listener would end the process. Its next query fails instead, and the pool
  // drops it on release (pg-pool does not reuse a client that is no longer queryable).
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * A pg Client that runs every statement with parameters as a named prepared
 * statement: PostgreSQL parses and plans it once per connection instead of on
 * every request, which is most of its CPU for the short reads EPU serves
 * (decision 0029). The first `limit` distinct texts get a name each, shared by
 * every connection of the process; later texts run unnamed, so a statement
 * spelt with varying literals cannot grow the set without bound. Statements
 * without parameters (BEGIN, COMMIT, the notifier's batch) run as before.
 */
export function preparingClient(limit: number): typeof pg.Client {
  const names = new Map<string, string>();
  const nameFor = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < limit) {
      name = `epu_${names.size + 1}`;
      names.set(text, name);
    }
    return name;
  };
  return class PreparingClient extends pg.Client {
    // pg's query() has many overloads; only (text, values[, callback]) is rewritten.
    override query(...args: unknown[]): never {
      const [text, values, callback] = args;
      const name = typeof text === 'string' && Array.isArray(values) && values.length > 0 ? nameFor(text) : undefined;
      const call = super.query as (...callArgs: unknown[]) => never;
      return name ? call.call(this, { name, text, values }, callback) : call.apply(this, args);
    }
  };
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
