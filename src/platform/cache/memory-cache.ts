import { LRUCache } from 'lru-cache';
import { type Cache, cacheName, createSingleFlight, isCacheable, type OnLookup, type WrapOptions } from './cache.js';

/**
 * The cache with REDIS_URL unset: an LRU in this process. Values are kept as
 * JSON text, as Redis keeps them, so both caches hand out the same shapes and
 * no caller can change a cached value by mutating what it got.
 */
export function createMemoryCache(options: { maxEntries?: number; onLookup?: OnLookup } = {}): Cache {
  const entries = new LRUCache<string, string>({ max: options.maxEntries ?? 5_000 });
  const flights = createSingleFlight();
  const onLookup = options.onLookup ?? (() => undefined);

  const read = <T>(key: string): T | undefined => {
    const text = entries.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  };
  const write = (key: string, value: unknown, ttlSeconds: number) => {
    entries.set(key, JSON.stringify(value), { ttl: ttlSeconds * 1000 });
  };

  return {
    kind: 'memory',
    async get<T>(key: string) {
      return read<T>(key);
    },
    async set(key, value, ttlSeconds) {
      write(key, value, ttlSeconds);
    },
    async delete(...keys) {
      flights.invalidate(keys);
      for (const key of keys) entries.delete(key);
    },
    async wrap<T>(key: string, ttlSeconds: number, loader: () => Promise<T>, wrapOptions?: WrapOptions<T>) {
      const cached = read<T>(key);
      if (cached !== undefined) {
        onLookup(cacheName(key), true);
        return cached;
      }
      const { promise, joined } = flights.run(key, async (flight) => {
        const value = await loader();
        if (!flight.invalidated && isCacheable(value, wrapOptions)) write(key, value, ttlSeconds);
        return value;
      });
      onLookup(cacheName(key), joined);
      return promise;
    },
    async check() {
      return 'ok';
    },
  };
}
