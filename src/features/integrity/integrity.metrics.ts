// The integrity check's own figures on the platform's metrics registry. The name is a
// contract: the alerts in deploy/observability/ are written against it.
import type { Logger } from '../../platform/observability/logger.js';
import type { Metrics } from '../../platform/observability/metrics.js';
import { cached } from '../../platform/observability/scrape.js';

export interface IntegrityMetrics {
  problems(check: string, count: number): void;
}

/** Registers the problems gauge (registering again returns the same gauge). */
export function integrityMetrics(metrics: Pick<Metrics, 'gauge'>): IntegrityMetrics {
  const problems = metrics.gauge({
    name: 'epu_integrity_problems',
    help: 'Problems found by the last integrity check, by check.',
    labelNames: ['check'],
    aggregator: 'max',
  });
  return { problems: (check, count) => problems.set({ check }, count) };
}

/**
 * Problems per check of the latest stored run, read at scrape time (cached for
 * `ttlMs`, default 30 s), so that a restarted process reports the truth.
 */
export function collectIntegrityProblems(
  latestProblemCounts: () => Promise<Record<string, number>>,
  metrics: Pick<Metrics, 'gauge' | 'onScrape'>,
  options: { ttlMs?: number; logger?: Logger } = {},
): void {
  const gauge = integrityMetrics(metrics);
  const read = cached(latestProblemCounts, options.ttlMs ?? 30_000);
  metrics.onScrape(async () => {
    try {
      for (const [check, count] of Object.entries(await read())) gauge.problems(check, count);
    } catch (error) {
      options.logger?.warn({ err: error }, 'could not read integrity figures for metrics');
    }
  });
}
