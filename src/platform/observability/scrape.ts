// Figures read at scrape time rather than kept up to date: memoised, so that many scrapes cost one read.
import type { Logger } from './logger.js';
import type { Metrics, QueueCounts } from './metrics.js';

/** Something that counts jobs, such as the queue. */
export interface CountsJobs {
  counts(): Promise<QueueCounts>;
}

/**
 * Returns `fetch`, memoised for `ttlMs`: Prometheus scraping every replica at
 * once costs one query per interval, not one per scrape.
 */
export function cached<T>(fetch: () => Promise<T>, ttlMs: number): () => Promise<T> {
  let value: Promise<T> | null = null;
  let fetchedAt = 0;
  return () => {
    if (!value || performance.now() - fetchedAt >= ttlMs) {
      fetchedAt = performance.now();
      value = fetch();
      // A failure is not kept: the next scrape tries again.
      value.catch(() => {
        value = null;
      });
    }
    return value;
  };
}

/** Queue depth read from the queue at scrape time, at most once every `ttlMs` (default 2 s). */
export function collectQueueDepth(queue: CountsJobs, metrics: Metrics, options: { ttlMs?: number; logger?: Logger } = {}): void {
  const counts = cached(() => queue.counts(), options.ttlMs ?? 2_000);
  metrics.onScrape(async () => {
    try {
      metrics.setQueueCounts(await counts());
    } catch (error) {
      // The scrape still answers, with the last known counts.
      options.logger?.warn({ err: error }, 'could not count queued jobs for metrics');
    }
  });
}
