import { describe, expect, it } from 'vitest';
import { samples } from '../../../tests/support/metrics.js';
import { createMetrics } from '../../platform/observability/metrics.js';
import { collectIntegrityProblems, integrityMetrics } from './integrity.metrics.js';

describe('integrity metrics', () => {
  it('reports problems per check under the name the alerts use, set by the job or read at scrape time', async () => {
    const metrics = createMetrics({ role: 'worker', version: '1.0.0', gitSha: undefined });
    integrityMetrics(metrics).problems('orphan_files', 2);
    collectIntegrityProblems(async () => ({ missing_files: 1 }), metrics, { ttlMs: 0 });

    const text = await metrics.registry.metrics();
    expect(samples(text, 'epu_integrity_problems')).toEqual(
      new Map([
        ['{check="orphan_files"}', 2],
        ['{check="missing_files"}', 1],
      ]),
    );
  });
});
