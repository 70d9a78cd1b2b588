import type { Logger } from '../../platform/observability/logger.js';
import type { JobHandler } from '../../platform/queue/index.js';
import type { StatsRepository } from './stats.repository.js';
import { aggregateStats } from './stats.service.js';

/** `stats.aggregate`, every 5 minutes: cheap and idempotent, so overlapping or repeated runs are harmless. */
export function statsAggregateJob(deps: { repo: StatsRepository; logger: Logger }): JobHandler {
  return async () => ({ ...(await aggregateStats(deps.repo, new Date(), deps.logger)) });
}
