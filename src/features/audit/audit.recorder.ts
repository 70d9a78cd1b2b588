import type { Kysely, Transaction } from 'kysely';
import { newCloudEvent } from '../../platform/functions/cloud-event.js';
import type { FunctionsDispatcher } from '../../platform/functions/dispatcher.js';
import type { OutboxJob } from '../../platform/queue/index.js';
import { currentRequestId } from '../../platform/http/request-context.js';
import type { AuditEntry, AuditEventData } from './audit.types.js';

export const AUDIT_EVENT_TYPE = 'com.epu.audit.v1';

/**
 * Records an action by emitting an audit CloudEvent for the auditLog function.
 * Given the action's transaction, the entry is stored with it or not at all.
 */
export function createAuditRecorder(dispatcher: FunctionsDispatcher, source: string) {
  const auditEvent = (entry: AuditEntry) =>
    newCloudEvent(AUDIT_EVENT_TYPE, source, {
      ...entry,
      at: new Date().toISOString(),
      requestId: currentRequestId(),
    } satisfies AuditEventData);
  return {
    async record(entry: AuditEntry, executor?: Kysely<any> | Transaction<any>): Promise<void> {
      await dispatcher.emit('auditLog', auditEvent(entry), executor);
    },
    /** The entry as an outbox job for the action's own statement to write (stored with it or not at all). */
    outbox(entry: AuditEntry): OutboxJob {
      return dispatcher.outbox('auditLog', auditEvent(entry));
    },
  };
}

export type AuditRecorder = ReturnType<typeof createAuditRecorder>;
