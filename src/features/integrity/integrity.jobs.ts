import type { Logger } from '../../platform/observability/logger.js';
import type { JobHandler } from '../../platform/queue/index.js';
import type { IntegrityMetrics } from './integrity.metrics.js';
import { INTEGRITY_CHECKS, type IntegrityService } from './integrity.service.js';

/**
 * `integrity.check`, nightly. Problems are findings, not a failure of the job:
 * the run is stored, counted in the metrics (alerts fire on those) and logged.
 */
export function integrityCheckJob(deps: { integrity: IntegrityService; metrics: IntegrityMetrics; logger: Logger }): JobHandler {
  return async () => {
    const report = await deps.integrity.run();
    for (const check of INTEGRITY_CHECKS) deps.metrics.problems(check, report.checks[check].problems);
    const problems = Object.fromEntries(INTEGRITY_CHECKS.map((check) => [check, report.checks[check].problems]));
    if (report.ok) deps.logger.info({ runId: report.id, problems }, 'integrity check passed');
    else deps.logger.warn({ runId: report.id, problems, checks: report.checks }, 'integrity check found problems');
    return { runId: report.id, ok: report.ok, ...problems };
  };
}
