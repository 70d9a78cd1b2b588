// Database metrics: the pool gauges read at scrape time, and the latency of every query.
import type pg from 'pg';
import type { Metrics } from './metrics.js';

type QueryFunction = (...args: unknown[]) => unknown;

/** Times every query of a client, whether called with a callback (pool.query) or as a promise (Kysely). */
function timeQueries(client: pg.PoolClient, metrics: Metrics): void {
  const target = client as unknown as { query: QueryFunction };
  const query = target.query;
  target.query = function timedQuery(this: unknown, ...args: unknown[]) {
    const started = performance.now();
    const observe = () => metrics.queryDuration((performance.now() - started) / 1000);
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = function (this: unknown, ...results: unknown[]) {
        observe();
        return (callback as QueryFunction).apply(this, results);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    // Streams (COPY, cursors) are not timed: they last as long as their reader.
    if (result instanceof Promise) result.then(observe, observe);
    return result;
  };
}

/**
 * Pool gauges read at scrape time, and query latency for every connection the
 * pool opens from now on: call it right after creating the pool.
 */
export function instrumentPool(pool: pg.Pool, metrics: Metrics): void {
  metrics.addPool(pool);
  pool.on('connect', (client) => timeQueries(client, metrics));
}
