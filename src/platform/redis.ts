import { Redis } from 'ioredis';
import type { Logger } from './observability/logger.js';

/**
 * Keys and channels of one deployment (and one test database) in a Redis that
 * others may share: `epu:<database name>:`.
 */
export function redisNamespace(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || 'epu';
}

/**
 * A command connection for the cache and the rate limits, set up to fail fast
 * rather than wait: no offline queue (a command while disconnected fails at
 * once), one retry, and every command answered or failed within
 * `commandTimeoutMs` even when Redis hangs with the socket open. It reconnects
 * by itself, at most every 2 s, for as long as the process runs.
 */
export function createRedisConnection(options: { url: string; name: string; logger: Logger; commandTimeoutMs: number }): Redis {
  const { logger } = options;
  const connection = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: 2_000,
    // CLIENT LIST shows which deployment a connection belongs to.
    connectionName: options.name.replace(/[^A-Za-z0-9_.:-]/g, '_'),
    retryStrategy: (attempt) => Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)),
  });
  let down = false;
  connection.on('error', (error: Error) => {
    // One line per outage, not one per reconnection attempt.
    if (!down)
      logger.warn({ err: error, connection: options.name }, 'Redis unreachable: cache bypassed, rate limits in PostgreSQL, retrying');
    down = true;
  });
  connection.on('ready', () => {
    if (down) logger.info({ connection: options.name }, 'Redis reachable again');
    down = false;
  });
  return connection;
}
