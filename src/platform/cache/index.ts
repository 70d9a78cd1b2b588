import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { Cache, OnLookup } from './cache.js';
import { createMemoryCache } from './memory-cache.js';
import { createRedisCache } from './redis-cache.js';

export type { Cache, OnLookup, WrapOptions } from './cache.js';

/**
 * The REDIS_URL dial for hot reads: unset, an LRU in each process (each
 * replica caches on its own, and its writes invalidate only its own copy,
 * which the short TTLs bound); set, one cache in Redis shared by every replica.
 */
export function createCache(options: { redis: Redis | null; namespace: string; logger: Logger; onLookup: OnLookup }): Cache {
  if (!options.redis) return createMemoryCache({ onLookup: options.onLookup });
  return createRedisCache({
    redis: options.redis,
    namespace: options.namespace,
    logger: options.logger.child({ component: 'cache' }),
    onLookup: options.onLookup,
  });
}
