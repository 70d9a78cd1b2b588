import pg from 'pg';
import { CompiledQuery, Kysely, PostgresDialect, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import { timestamptzParser } from './timestamps.js';

// count(*) and other bigints come back as numbers: no count here comes near 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// The same Dates as pg's parser gives, read faster (timestamps.ts).
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, timestamptzParser(pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ)));

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
 *   here, around pg's callback form. With the promise pg makes itself, V8
 *   kept the values of dead rows alive through its scavenges (it had tenured
 *   an allocation site on the rows' path): on the gallery path 2.1 MB
 *   promoted and 13 ms of pause per scavenge against 0.03 MB and 2.7 ms with
 *   this one. Why one and not the other is V8's heuristic, not established;
 *   `npm run bench -- --only gc` shows both (decision 0056).
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
    // pg's query() takes (text | config [, values] [, callback]) or a submittable (a cursor, a stream).
    override query(...args: unknown[]): never {
      const call = super.query as (...callArgs: unknown[]) => never;
      const [first, second, third] = args;
      const name = typeof first === 'string' && Array.isArray(second) && second.length > 0 ? nameFor(first) : undefined;
      const config = name ? { name, text: first, values: second } : first;
      const values = name ? undefined : second;
      // Answered through the caller's own callback or object, or refused by pg (no query, a third argument that is
      // not a callback, more than three): pg's, as given.
      const theCallersWay = typeof values === 'function' || third != null || args.length > 3 || config == null;
      if (theCallersWay || isSubmittable(config) || hasOwnCallback(config)) return call.call(this, config, values, ...args.slice(2));
      return withCallersStack(
        new Promise((resolve, reject) => {
          call.call(this, config, values, (error: Error | null, result: unknown) => (error ? reject(error) : resolve(result)));
        }),
      ) as never;
    }
  };
}

/** As pg's promise form does: a failed query's stack leads back to its caller (its awaits), not to the socket's read. */
function withCallersStack<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((error: Error) => {
    Error.captureStackTrace(error);
    throw error;
  });
}

const isSubmittable = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && typeof (value as { submit?: unknown }).submit === 'function';
const hasOwnCallback = (config: unknown): boolean =>
  typeof config === 'object' && config !== null && typeof (config as { callback?: unknown }).callback === 'function';

export type Db = Kysely<Database>;

/** Where a statement runs: the pool, or a transaction so that it commits with the rest of an action (its audit entry). */
export type Executor = Db | Transaction<Database>;

/**
 * Work the caller runs inside a write's own transaction, after the write (its
 * audit entry): it commits with the write, and its failure rolls the write back.
 */
export type WithinTransaction<Args extends unknown[] = []> = (tx: Transaction<Database>, ...args: Args) => Promise<void>;

/**
 * The pool behind each Kysely createKysely made, where fixedRows sends its
 * statements. fixedRows skips Kysely's plugins and query log: a Kysely given
 * either must not be registered here.
 */
const poolOf = new WeakMap<Executor, pg.Pool>();

export function createKysely(pool: pg.Pool): Db {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  poolOf.set(db, pool);
  return db;
}

/**
 * The rows of a fixed statement (its text, with numbered parameters, and
 * their values): how the hot paths read (the gallery, the event, the session)
 * and book. On a Kysely createKysely made, the statement goes to a connection
 * of its pool directly: checked out with pg-pool's callback form, queried
 * through EPU's client (whose promise lets rows die young, decision 0056),
 * released. Kysely's way to the same connection (a checkout through a promise,
 * nested awaits, the result passed through its transforms) was work on every
 * request that the twin does not do (decision 0057). Anything else (a
 * transaction, the replica's failover pool) runs through Kysely.
 */
export function fixedRows<Row>(executor: Executor, text: string, values: readonly unknown[]): Promise<Row[]> {
  const pool = poolOf.get(executor);
  if (!pool) return executor.executeQuery<Row>(CompiledQuery.raw(text, [...values])).then((result) => result.rows);
  return withCallersStack(
    new Promise<Row[]>((resolve, reject) => {
      pool.connect((connectError, client, release) => {
        if (connectError || !client) return reject(connectError ?? new Error('pg-pool gave no connection and no error'));
        // Released without an error, as Kysely releases it: a failed statement (a refused value) leaves the connection
        // in the pool, which drops it only when it is no longer usable. The caller is settled first: releasing hands
        // the connection to the next waiter, whose work then runs at once.
        const answered = (rows: Row[]) => {
          resolve(rows);
          release();
        };
        const failed = (error: unknown) => {
          reject(error instanceof Error ? error : new Error(String(error)));
          release();
        };
        try {
          client.query<Row & pg.QueryResultRow>(text, values as unknown[]).then((result) => answered(result.rows), failed);
        } catch (error) {
          // A client that throws instead of rejecting.
          failed(error);
        }
      });
    }),
  );
}
