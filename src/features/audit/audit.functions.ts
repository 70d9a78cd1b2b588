import type { EpuFunction } from '../../platform/functions/cloud-event.js';
import type { Logger } from '../../platform/observability/logger.js';
import type { AuditRepository } from './audit.repository.js';
import { AUDIT_ACTIONS, type AuditEventData } from './audit.types.js';

const ACTIONS = new Set<string>(AUDIT_ACTIONS);

/** The `auditLog` function: writes one audit row per event, exactly once per event id. */
export function createAuditLogFunction(deps: { repo: AuditRepository; logger: Logger }): EpuFunction<AuditEventData> {
  return async (event) => {
    const data = event.data;
    if (!data || !ACTIONS.has(data.action) || typeof data.subjectId !== 'string' || typeof data.subjectType !== 'string') {
      // A malformed event would fail forever; refuse it loudly instead of retrying.
      deps.logger.error({ eventId: event.id, type: event.type }, 'auditLog: malformed event dropped');
      return;
    }
    await deps.repo.insert(event.id, data);
  };
}
