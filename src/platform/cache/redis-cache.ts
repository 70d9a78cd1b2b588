import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { type Cache, cacheName, createSingleFlight, isCacheable, type OnLookup, type WrapOptions } from './cache.js';

export interface RedisCacheOptions {
  /** A fail-fast connection (platform/redis.ts): every command answers or fails within a short timeout. */
  redis: Redis;
  /** Keys live under `epu:<namespace>:cache:`. */
  namespace: string;
  logger: Logger;
  onLookup?: OnLookup;
  /** After a failed command, Redis is skipped this long; then one caller probes it. */
  breakerOpenMs?: number;
  /** How long a loader's lock keeps other processes from loading the same key. */
  lockMs?: number;
  /** How long a caller that finds the lock taken waits for the holder's value before loading itself. */
  waitForOtherMs?: number;
}

// Deletes the lock only if it is still ours: a slow loader whose lock expired must not free someone else's.
const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

const UNAVAILABLE = Symbol('redis unavailable');

/**
 * Skips Redis for `openMs` after a failure, then lets exactly one call through
 * as a probe: its success closes the breaker, its failure opens it again. A
 * hung Redis so costs one command timeout per `openMs`, not one per request.
 */
function createBreaker(openMs: number) {
  let state: 'closed' | 'open' | 'probing' = 'closed';
  let openedAt = 0;
  return {
    allow(): boolean {
      if (state === 'closed') return true;
      if (state === 'open' && performance.now() - openedAt >= openMs) {
        state = 'probing';
        return true;
      }
      return false;
    },
    /** True when this success ended an outage. */
    succeeded(): boolean {
      const wasOpen = state !== 'closed';
      state = 'closed';
      return wasOpen;
    },
    /** True when this failure started an outage. */
    failed(): boolean {
      const wasClosed = state === 'closed';
      state = 'open';
      openedAt = performance.now();
      return wasClosed;
    },
  };
}

/**
 * The shared cache with REDIS_URL set. Every replica reads and invalidates the
 * same keys. Redis is an accelerator: while it is down, hung or behind an open
 * breaker, reads miss and writes are dropped without waiting, and the cache is
 * used again once a probe succeeds, without a restart.
 */
export function createRedisCache(options: RedisCacheOptions): Cache {
  const { redis, logger } = options;
  const prefix = `epu:${options.namespace}:cache:`;
  const lockPrefix = `epu:${options.namespace}:lock:`;
  const lockMs = options.lockMs ?? 3_000;
  const waitForOtherMs = options.waitForOtherMs ?? 1_000;
  const onLookup = options.onLookup ?? (() => undefined);
  const breaker = createBreaker(options.breakerOpenMs ?? 3_000);
  const flights = createSingleFlight();

  async function attempt<T>(command: () => Promise<T>): Promise<T | typeof UNAVAILABLE> {
    // Disconnected: fail at once (reconnection runs in the background).
    if (redis.status !== 'ready' || !breaker.allow()) return UNAVAILABLE;
    try {
      const result = await command();
      if (breaker.succeeded()) logger.info('Redis cache in use again');
      return result;
    } catch (error) {
      if (breaker.failed()) logger.warn({ err: error }, 'Redis cache command failed: bypassing the cache for a few seconds');
      return UNAVAILABLE;
    }
  }

  const decode = <T>(text: string | null | typeof UNAVAILABLE): T | undefined => {
    if (typeof text !== 'string') return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      return undefined;
    }
  };
  const read = async <T>(key: string) => decode<T>(await attempt(() => redis.get(prefix + key)));
  const write = (key: string, value: unknown, ttlSeconds: number) =>
    attempt(() => redis.set(prefix + key, JSON.stringify(value), 'EX', ttlSeconds));

  /** Polls for the value another process is loading; undefined when it gave up or stored nothing. */
  async function waitForOther<T>(key: string): Promise<T | undefined> {
    const deadline = performance.now() + waitForOtherMs;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const found = await attempt(() => redis.mget(prefix + key, lockPrefix + key));
      if (found === UNAVAILABLE) return undefined;
      const [value, lock] = found;
      if (value !== null && value !== undefined) return decode<T>(value);
      if (lock === null || lock === undefined) return undefined;
    }
    return undefined;
  }

  async function load<T>(
    key: string,
    ttlSeconds: number,
    loader: () => Promise<T>,
    wrapOptions: WrapOptions<T> | undefined,
    flight: { readonly invalidated: boolean },
  ) {
    const cached = await read<T>(key);
    if (cached !== undefined) return { value: cached, hit: true };
    const token = crypto.randomBytes(9).toString('base64url');
    const locked = await attempt(() => redis.set(lockPrefix + key, token, 'PX', lockMs, 'NX'));
    if (locked === null) {
      const loadedElsewhere = await waitForOther<T>(key);
      if (loadedElsewhere !== undefined) return { value: loadedElsewhere, hit: true };
    }
    try {
      const value = await loader();
      if (!flight.invalidated && isCacheable(value, wrapOptions)) await write(key, value, ttlSeconds);
      return { value, hit: false };
    } finally {
      if (locked === 'OK') await attempt(() => redis.eval(RELEASE_LOCK, 1, lockPrefix + key, token));
    }
  }

  return {
    kind: 'redis',
    get: read,
    async set(key, value, ttlSeconds) {
      await write(key, value, ttlSeconds);
    },
    async delete(...keys) {
      if (keys.length === 0) return;
      flights.invalidate(keys);
      // Unreachable: the delete is lost and the short TTL heals it.
      await attempt(() => redis.del(...keys.map((key) => prefix + key)));
    },
    async wrap<T>(key: string, ttlSeconds: number, loader: () => Promise<T>, wrapOptions?: WrapOptions<T>) {
      const { promise, joined } = flights.run(key, (flight) => load(key, ttlSeconds, loader, wrapOptions, flight));
      const { value, hit } = await promise;
      onLookup(cacheName(key), joined || hit);
      return value;
    },
    async check() {
      if (redis.status !== 'ready') return 'degraded';
      try {
        await redis.ping();
        return 'ok';
      } catch {
        return 'degraded';
      }
    },
  };
}
