import type { Kysely, Transaction } from 'kysely';
import { newCloudEvent } from '../../platform/functions/cloud-event.js';
import type { FunctionsDispatcher } from '../../platform/functions/dispatcher.js';
import { currentRequestId } from '../../platform/http/request-context.js';
import type { AuditEntry, AuditEventData } from './audit.types.js';

export const AUDIT_EVENT_TYPE = 'com.epu.audit.v1';

/**
 * Records an action by emitting an audit CloudEvent for the auditLog function.
 * Given the action's transaction, the entry is stored with it or not at all.
 */
export function createAuditRecorder(dispatcher: FunctionsDispatcher, source: string) {
  return {
    async record(entry: AuditEntry, executor?: Kysely<any> | Transaction<any>): Promise<void> {
      const data: AuditEventData = { ...entry, at: new Date().toISOString(), requestId: currentRequestId() };
      await dispatcher.emit('auditLog', newCloudEvent(AUDIT_EVENT_TYPE, source, data), executor);
    },
  };
}

export type AuditRecorder = ReturnType<typeof createAuditRecorder>;
