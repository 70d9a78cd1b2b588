import { sql } from 'kysely';
import type { Db } from '../../platform/db/pool.js';
import type { AuditEventData } from './audit.types.js';
import { transaction } from '../../platform/db/transaction.js';

export interface AuditRow {
  id: string;
  at: Date;
  action: string;
  actor_id: string | null;
  subject_type: string;
  subject_id: string;
  request_id: string | null;
}

export interface AuditFilter {
  action?: string;
  actorId?: string;
  subjectType?: string;
  subjectId?: string;
}

export function createAuditRepository(db: Db) {
  return {
    /** Idempotent on the event id: a redelivered event inserts nothing. Returns whether a row was written. */
    async insert(id: string, data: AuditEventData): Promise<boolean> {
      const result = await db
        .insertInto('audit_log')
        .values({
          id,
          at: data.at,
          action: data.action,
          actor_id: data.actorId,
          subject_type: data.subjectType,
          subject_id: data.subjectId,
          request_id: data.requestId,
          metadata: JSON.stringify(data.metadata ?? {}),
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
    },

    list(filter: AuditFilter, limit: number, before?: [string, string]): Promise<AuditRow[]> {
      let query = db.selectFrom('audit_log').select(['id', 'at', 'action', 'actor_id', 'subject_type', 'subject_id', 'request_id']);
      if (filter.action) query = query.where('action', '=', filter.action);
      if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
      if (filter.subjectType) query = query.where('subject_type', '=', filter.subjectType);
      if (filter.subjectId) query = query.where('subject_id', '=', filter.subjectId);
      if (before) query = query.where(sql<boolean>`(at, id) < (${before[0]}::timestamptz, ${before[1]}::uuid)`);
      return query
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
    },

    /** Retention: only the sweep may delete, and the table's trigger enforces the 30-day floor. */
    deleteOlderThan(cutoff: Date): Promise<number> {
      return transaction(db, async (tx) => {
        await sql`SET LOCAL epu.audit_retention = 'on'`.execute(tx);
        const result = await tx.deleteFrom('audit_log').where('at', '<', cutoff).executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
