import type { JobHandler } from '../../platform/queue/index.js';
import type { RetentionService } from './retention.service.js';

/** `retention.sweep`, hourly; its summary is what it removed (logged, and printed by `epu jobs run retention.sweep`). */
export function retentionSweepJob(retention: Pick<RetentionService, 'sweep'>): JobHandler {
  return async () => ({ ...(await retention.sweep()) });
}
