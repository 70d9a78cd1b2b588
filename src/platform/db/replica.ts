import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import type { Logger } from '../observability/logger.js';
import type { Database } from './schema.js';
import type { Db } from './pool.js';

const CHECK_TIMEOUT_MS = 1_000;

// Server shutting down or terminating the session, connection lost or refused.
const CONNECTION_ERROR_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE']);

function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return (code !== undefined && CONNECTION_ERROR_CODES.has(code)) || /Connection terminated/i.test(message ?? '');
}

export interface Replica {
  /** Reads through the replica; through the primary while the replica cannot be reached. */
  db: Db;
  pool: pg.Pool;
  /** 'degraded' while the replica does not answer (reads then go to the primary); never fails readiness. */
  check(): Promise<'ok' | 'degraded'>;
}

/**
 * The DATABASE_REPLICA_URL dial. Each read takes a replica connection; when
 * the replica refuses or does not answer in time, that read and every read for
 * the next `retryAfterMs` take a primary connection instead, and then one read
 * tries the replica again. A replica outage so costs load on the primary, not
 * failed requests, and ends by itself.
 */
export function createReplica(options: { primary: pg.Pool; replica: pg.Pool; logger: Logger; retryAfterMs?: number }): Replica {
  const { primary, replica, logger } = options;
  const retryAfterMs = options.retryAfterMs ?? 5_000;
  let state: 'up' | 'down' | 'probing' = 'up';
  let downSince = 0;

  const useReplica = () => {
    if (state === 'up') return true;
    if (state === 'down' && performance.now() - downSince >= retryAfterMs) {
      state = 'probing';
      return true;
    }
    return false;
  };

  const markDown = (error: unknown) => {
    if (state === 'up') logger.warn({ err: error }, 'read replica unreachable: reads go to the primary meanwhile');
    state = 'down';
    downSince = performance.now();
  };

  /**
   * A replica connection whose first failure for connection reasons (the
   * replica restarted or failed over and dropped it) repeats the query on a
   * primary connection: reads are safe to repeat.
   */
  const withFallback = (client: pg.PoolClient): PostgresPoolClient => {
    let current = client;
    let onPrimary = false;
    return {
      async query(text: unknown, parameters?: readonly unknown[]) {
        if (onPrimary || typeof text !== 'string') return current.query(text as string, parameters as unknown[]);
        try {
          return await current.query(text, parameters as unknown[]);
        } catch (error) {
          if (!isConnectionError(error)) throw error;
          markDown(error);
          current.release(error as Error);
          current = await primary.connect();
          onPrimary = true;
          return current.query(text, parameters as unknown[]);
        }
      },
      release: () => current.release(),
      // Both of Kysely's query forms: SQL text (with the fallback) and cursors (passed through).
    } as unknown as PostgresPoolClient;
  };

  const failover: PostgresPool = {
    async connect() {
      if (useReplica()) {
        try {
          const client = await replica.connect();
          if (state !== 'up') logger.info('read replica reachable again: reads go to it');
          state = 'up';
          return withFallback(client);
        } catch (error) {
          markDown(error);
        }
      }
      return primary.connect();
    },
    // The platform ends both pools.
    async end() {},
  };

  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool: failover }) }),
    pool: replica,
    async check() {
      // Answers within the health route's own deadline, so a hung replica reads 'degraded', never 'failing'.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'degraded'>((resolve) => {
        timer = setTimeout(() => resolve('degraded'), CHECK_TIMEOUT_MS);
      });
      const answered = replica.query('SELECT 1').then(
        () => 'ok' as const,
        () => 'degraded' as const,
      );
      return Promise.race([answered, late]).finally(() => clearTimeout(timer));
    },
  };
}
