import type { Logger } from '../observability/logger.js';
import type { Notifier } from '../db/notifier.js';
import type { ChangeBus } from './change-bus.js';
import { createPostgresBus } from './postgres-bus.js';
import { createRedisBus } from './redis-bus.js';

export type { ChangeBus, MessageHandler, SubscribeOptions } from './change-bus.js';

/**
 * The REDIS_URL dial: unset, changes travel by PostgreSQL LISTEN/NOTIFY (one
 * extra connection per process); set, by Redis pub/sub, namespaced by the
 * database name so that only processes sharing the data hear each other.
 */
export function createChangeBus(options: {
  redisUrl: string | undefined;
  databaseUrl: string;
  notifier: Notifier;
  logger: Logger;
}): ChangeBus {
  const logger = options.logger.child({ component: 'change-bus' });
  if (options.redisUrl) {
    const namespace = decodeURIComponent(new URL(options.databaseUrl).pathname.slice(1)) || 'epu';
    return createRedisBus({ url: options.redisUrl, namespace, logger });
  }
  return createPostgresBus({ notifier: options.notifier, connectionString: options.databaseUrl, logger });
}
