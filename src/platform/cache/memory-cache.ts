import { LRUCache } from 'lru-cache';
import { type Cache, cacheName, createSingleFlight, isCacheable, type OnLookup, type WrapOptions } from './cache.js';

/**
 * The cache with REDIS_URL unset: an LRU in this process. A value is stored as
 * Redis hands it back (through JSON text), so both caches give out the same
 * shapes, and frozen: every reader gets that one object, and none can change
 * what the others read (a change throws: modules are strict). Parsing the text
 * again on every read, as this cache did, was 2 % of a gallery request's CPU
 * for its cached event (decision 0062).
 */
export function createMemoryCache(options: { maxEntries?: number; onLookup?: OnLookup } = {}): Cache {
  // Boxed: the LRU holds no null, and null is a value like any other here. Bounded by entries, not bytes:
  // the values are a few small ones (an event each, the first page of the list, the home counters).
  const entries = new LRUCache<string, { value: unknown }>({ max: options.maxEntries ?? 5_000 });
  const flights = createSingleFlight();
  const onLookup = options.onLookup ?? (() => undefined);

  const read = <T>(key: string): T | undefined => entries.get(key)?.value as T | undefined;
  const write = (key: string, value: unknown, ttlSeconds: number) => {
    const text = JSON.stringify(value);
    if (text === undefined) entries.delete(key);
    else entries.set(key, { value: deepFreeze(JSON.parse(text)) }, { ttl: ttlSeconds * 1000 });
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

function deepFreeze(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
