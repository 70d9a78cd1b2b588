/**
 * A cache for hot reads: values are JSON (plain data, no Dates), and what a
 * read gives may be shared with other readers and frozen: it is read-only. Keys are
 * `<name>:<rest>` where `<name>` (the part before the first colon) is the
 * low-cardinality label the hit/miss metrics use, such as `event` or `home`.
 *
 * A cache never throws because of itself: when its store is away, reads miss
 * and writes are dropped, and callers load from the database as if there were
 * no cache.
 */
export interface Cache {
  readonly kind: 'memory' | 'redis';
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  delete(...keys: string[]): Promise<void>;
  /**
   * The cached value, or the loader's (then stored for `ttlSeconds`). One
   * loader per key runs at a time in this process; with Redis, a short lock
   * keeps other processes from loading the same key at the same moment.
   */
  wrap<T>(key: string, ttlSeconds: number, loader: () => Promise<T>, options?: WrapOptions<T>): Promise<T>;
  /** 'degraded' while the store is unreachable (the cache is bypassed meanwhile); never throws. */
  check(): Promise<'ok' | 'degraded'>;
}

export interface WrapOptions<T> {
  /** Whether a loaded value may be stored (say, only public events); default: anything but undefined. */
  cacheable?: (value: T) => boolean;
}

/** Counts lookups, by cache name (platform.metrics.cacheHit). */
export type OnLookup = (cache: string, hit: boolean) => void;

export function cacheName(key: string): string {
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}

export function isCacheable<T>(value: T, options: WrapOptions<T> | undefined): boolean {
  return value !== undefined && (options?.cacheable?.(value) ?? true);
}

interface Flight {
  promise: Promise<unknown>;
  /** Set when the key is deleted while loading: what was loaded may predate the write and is not stored. */
  invalidated: boolean;
}

/**
 * One load per key at a time in this process: concurrent callers share the
 * first caller's promise. A delete during the load marks it invalidated, so
 * a value read before a write never lands in the cache after it.
 */
export function createSingleFlight() {
  const flights = new Map<string, Flight>();
  return {
    /** `joined` is true for callers who got another caller's load. */
    run<T>(key: string, load: (flight: { readonly invalidated: boolean }) => Promise<T>): { promise: Promise<T>; joined: boolean } {
      const existing = flights.get(key);
      if (existing) return { promise: existing.promise as Promise<T>, joined: true };
      const flight: Flight = { promise: Promise.resolve(), invalidated: false };
      flight.promise = load(flight).finally(() => {
        if (flights.get(key) === flight) flights.delete(key);
      });
      flights.set(key, flight);
      return { promise: flight.promise as Promise<T>, joined: false };
    },
    invalidate(keys: string[]): void {
      for (const key of keys) {
        const flight = flights.get(key);
        if (!flight) continue;
        flight.invalidated = true;
        flights.delete(key);
      }
    },
  };
}
