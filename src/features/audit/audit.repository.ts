import { sql } from 'kysely';
import type { Db, Executor } from '../../platform/db/pool.js';
import type { AuditEventData } from './audit.types.js';
import { transaction } from '../../platform/db/transaction.js';
import { parameters } from '../../platform/db/statement-write.js';

export interface AuditRow {
  id: string;
  at: Date;
  action: string;
  actor_id: string | null;
  subject_type: string;
  subject_id: string;
  request_id: string | null;
}

/** An entry with what a person reads instead of ids: names and titles, null where the row no longer exists. */
export interface NamedAuditRow extends AuditRow {
  actor_name: string | null;
  /** The subject user's name (a user subject). */
  user_name: string | null;
  /** The event of the subject: itself, or the event of a photo, booking or event export. */
  event_id: string | null;
  event_title: string | null;
  /** Whether a photo subject still exists (its viewer can open). */
  photo_exists: boolean;
}

export interface AuditFilter {
  action?: string;
  actorId?: string;
  subjectType?: string;
  subjectId?: string;
}

/** An audit row for a WITH clause: one per row of the CTE named `source` (the action's own statement writes it). */
const auditInsertFrom = (source: string, first: number): string => {
  const $ = parameters(first);
  return `INSERT INTO audit_log (id, at, action, actor_id, subject_type, subject_id, request_id, metadata)
    SELECT ${$(0)}::uuid, ${$(1)}::timestamptz, ${$(2)}, ${$(3)}::uuid, ${$(4)}, ${$(5)}, ${$(6)}, ${$(7)}::jsonb
    FROM "${source}"`;
};

/** The values of auditInsertFrom's parameters, in order. */
const auditRowValues = (id: string, data: AuditEventData): unknown[] => [
  id,
  data.at,
  data.action,
  data.actorId,
  data.subjectType,
  data.subjectId,
  data.requestId,
  JSON.stringify(data.metadata ?? {}),
];

export function createAuditRepository(db: Db) {
  /** A page of entries, newest first: one more than the limit, so the caller knows whether another page follows. */
  const page = (filter: AuditFilter, limit: number, before?: [string, string]) => {
    let query = db.selectFrom('audit_log').select(['id', 'at', 'action', 'actor_id', 'subject_type', 'subject_id', 'request_id']);
    if (filter.action) query = query.where('action', '=', filter.action);
    if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
    if (filter.subjectType) query = query.where('subject_type', '=', filter.subjectType);
    if (filter.subjectId) query = query.where('subject_id', '=', filter.subjectId);
    if (before) query = query.where(sql<boolean>`(at, id) < (${before[0]}::timestamptz, ${before[1]}::uuid)`);
    return query
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1);
  };
  return {
    /**
     * Idempotent on the event id: a redelivered event inserts nothing. Returns whether a row was written.
     * `executor`: the action's transaction, for an entry written with the action itself.
     */
    async insert(id: string, data: AuditEventData, executor: Executor = db): Promise<boolean> {
      const result = await executor
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

    insertFrom: auditInsertFrom,
    rowValues: auditRowValues,

    list: (filter: AuditFilter, limit: number, before?: [string, string]): Promise<AuditRow[]> => page(filter, limit, before).execute(),

    /** The same page with names and titles for the admin page, in one query (left joins on the page's rows). */
    listNamed(filter: AuditFilter, limit: number, before?: [string, string]): Promise<NamedAuditRow[]> {
      // Subject ids are text (a flag's is its name): only a uuid-shaped one is compared with the uuid keys.
      const entries = page(filter, limit, before)
        .select(
          sql<
            string | null
          >`CASE WHEN subject_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN subject_id::uuid END`.as(
            'subject_uuid',
          ),
        )
        .as('a');
      return db
        .selectFrom(entries)
        .leftJoin('users as actor', 'actor.id', 'a.actor_id')
        .leftJoin('users as su', (join) => join.onRef('su.id', '=', 'a.subject_uuid').on('a.subject_type', '=', 'user'))
        .leftJoin('photos as sp', (join) => join.onRef('sp.id', '=', 'a.subject_uuid').on('a.subject_type', '=', 'photo'))
        .leftJoin('bookings as sb', (join) => join.onRef('sb.id', '=', 'a.subject_uuid').on('a.subject_type', '=', 'booking'))
        .leftJoin('exports as sx', (join) => join.onRef('sx.id', '=', 'a.subject_uuid').on('a.subject_type', '=', 'export'))
        .leftJoin('events as ev', (join) =>
          join.on(
            sql<boolean>`ev.id = CASE WHEN a.subject_type = 'event' THEN a.subject_uuid ELSE coalesce(sp.event_id, sb.event_id, sx.event_id) END`,
          ),
        )
        .select([
          'a.id',
          'a.at',
          'a.action',
          'a.actor_id',
          'a.subject_type',
          'a.subject_id',
          'a.request_id',
          'actor.name as actor_name',
          'su.name as user_name',
          'ev.id as event_id',
          'ev.title as event_title',
          sql<boolean>`sp.id IS NOT NULL`.as('photo_exists'),
        ])
        .orderBy('a.at', 'desc')
        .orderBy('a.id', 'desc')
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
