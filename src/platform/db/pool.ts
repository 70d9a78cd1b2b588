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
  /** DATABASE_PREPARED_STATEMENTS: how many distinct statements to prepare (0: none); see epuClient. */
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
    Client: epuClient(settings.preparedStatements ?? 0),
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
 * EPU's pg Client. Two things differ from pg's own:
 *
 * - Statements with parameters run as named prepared statements: PostgreSQL
 *   parses and plans each once per connection instead of on every request,
 *   which is most of its CPU for the short reads EPU serves (decision 0029).
 *   The first `preparedStatements` distinct texts get a name each, shared by
 *   every connection of the process; later texts run unnamed, so a statement
 *   spelt with varying literals cannot grow the set without bound. Statements
 *   without parameters (BEGIN, COMMIT, the notifier's batch) run as before.
 * - A query called without a callback (how Kysely calls it) gets its promise
 *   here, from pg's callback form. With pg's own promise form, the rows of
 *   most results outlived their request: a third of what V8's scavenger found
 *   alive was gallery rows, 3.5 MB per collection against 0.03 MB with the
 *   callback form, and the copying and promotion made the scavenger a tenth of
 *   the web's CPU (decision 0056, where the measurements are).
 */
export function epuClient(preparedStatements: number): typeof pg.Client {
  const names = new Map<string, string>();
  const nameFor = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < preparedStatements) {
      name = `epu_${names.size + 1}`;
      names.set(text, name);
    }
    return name;
  };
  return class EpuClient extends pg.Client {
    // pg's query() has many overloads: (text | config [, values] [, callback]) and a submittable (a cursor, a stream).
    override query(...args: unknown[]): never {
      const call = super.query as (...callArgs: unknown[]) => never;
      while (args.length > 1 && args.at(-1) === undefined) args.pop();
      const [text, values] = args;
      const name = typeof text === 'string' && Array.isArray(values) && values.length > 0 ? nameFor(text) : undefined;
      const callArgs = name ? [{ name, text, values }, ...args.slice(2)] : args;
      if (typeof callArgs.at(-1) === 'function' || isSubmittable(callArgs[0])) return call.apply(this, callArgs);
      return new Promise((resolve, reject) => {
        call.call(this, ...callArgs, (error: Error | null, result: unknown) => (error ? reject(error) : resolve(result)));
      }).catch((error: Error) => {
        // As pg's promise form does: a stack that leads back to the caller (its awaits), not to the socket's read.
        Error.captureStackTrace(error);
        throw error;
      }) as never;
    }
  };
}

const isSubmittable = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && typeof (value as { submit?: unknown }).submit === 'function';

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
