import crypto from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { newCloudEvent } from '../../platform/functions/cloud-event.js';
import type { FunctionsDispatcher } from '../../platform/functions/dispatcher.js';
import type { StatementWrite } from '../../platform/db/statement-write.js';
import type { Database } from '../../platform/db/schema.js';
import { currentRequestId } from '../../platform/http/request-context.js';
import { AppError } from '../../platform/http/errors.js';
import { decodeCursor, isUuid, parsePageQuery, toPage } from '../../platform/http/pagination.js';
import type { AuditFilter, AuditRepository, AuditRow, NamedAuditRow } from './audit.repository.js';
import { AUDIT_ACTIONS, type AuditEntry, type AuditEventData } from './audit.types.js';
import { isoString, isoStringAt } from '../../platform/iso-time.js';

export const AUDIT_EVENT_TYPE = 'com.epu.audit.v1';

/**
 * Records an action. Most entries are emitted as audit CloudEvents for the
 * auditLog function (`record`); given the action's transaction, the entry is
 * stored with it or not at all. Bookings, the one hot write path, write the
 * row itself with the action (`rowWith`, `writeIn`): decision 0047.
 */
export function createAuditRecorder(dispatcher: FunctionsDispatcher, source: string, repo: AuditRepository) {
  const eventData = (entry: AuditEntry): AuditEventData => ({ ...entry, at: isoStringAt(Date.now()), requestId: currentRequestId() });
  return {
    async record(entry: AuditEntry, executor?: Kysely<any> | Transaction<any>): Promise<void> {
      await dispatcher.emit('auditLog', newCloudEvent(AUDIT_EVENT_TYPE, source, eventData(entry)), executor);
    },
    /** The audit row itself, for the action's own statement to write (stored with it or not at all). */
    rowWith(entry: AuditEntry): StatementWrite {
      const data = eventData(entry);
      return { kind: 'audit', insertFrom: repo.insertFrom, values: repo.rowValues(crypto.randomUUID(), data), written: () => {} };
    },
    /** The audit row itself, written in the action's transaction. */
    async writeIn(entry: AuditEntry, tx: Transaction<Database>): Promise<void> {
      await repo.insert(crypto.randomUUID(), eventData(entry), tx);
    },
  };
}

export type AuditRecorder = ReturnType<typeof createAuditRecorder>;

const toAuditJson = (row: AuditRow) => ({
  id: row.id,
  at: isoString(row.at),
  action: row.action,
  actorId: row.actor_id,
  subjectType: row.subject_type,
  subjectId: row.subject_id,
  requestId: row.request_id,
});

/** For the admin page only: the JSON API keeps CONTRACT.md's fields. */
const toNamedAuditJson = (row: NamedAuditRow) => ({
  ...toAuditJson(row),
  actorName: row.actor_name,
  userName: row.user_name,
  eventId: row.event_id,
  eventTitle: row.event_title,
  photoExists: row.photo_exists,
});

export type NamedAuditEntry = ReturnType<typeof toNamedAuditJson>;

/** Filters from a query string (API or the admin page's form), checked so bad values are a 400, not a database error. */
function parseAuditFilter(query: Record<string, string | undefined>): AuditFilter {
  const filter: AuditFilter = {};
  if (query.action) {
    if (!(AUDIT_ACTIONS as readonly string[]).includes(query.action))
      throw new AppError('validation_failed', `action must be one of ${AUDIT_ACTIONS.join(', ')}.`);
    filter.action = query.action;
  }
  if (query.actorId) {
    if (!isUuid(query.actorId)) throw new AppError('validation_failed', 'actorId must be a user id.');
    filter.actorId = query.actorId;
  }
  if (query.subjectType) filter.subjectType = query.subjectType.slice(0, 40);
  if (query.subjectId) filter.subjectId = query.subjectId.slice(0, 100);
  return filter;
}

/** The audit trail: recorded by the recorder (the auditLog function, or a booking's own statement), read by admins, pruned by retention. */
export function createAuditService(deps: { recorder: AuditRecorder; repo: AuditRepository }) {
  const { repo } = deps;
  const readPage = async <Row extends AuditRow, Json>(
    query: Record<string, string | undefined>,
    fetch: (filter: AuditFilter, limit: number, before?: [string, string]) => Promise<Row[]>,
    toJson: (row: Row) => Json,
  ) => {
    const page = parsePageQuery(query);
    const rows = await fetch(parseAuditFilter(query), page.limit, page.cursor ? decodeCursor(page.cursor) : undefined);
    return toPage(rows, page.limit, (row) => [isoString(row.at), row.id], toJson);
  };
  return {
    ...deps.recorder,

    /** A page of entries, newest first, filtered as the query string says. */
    list: (query: Record<string, string | undefined>) => readPage(query, repo.list, toAuditJson),

    /** The same page with the names and titles a person reads (the admin page). */
    listNamed: (query: Record<string, string | undefined>) => readPage(query, repo.listNamed, toNamedAuditJson),

    /** Entries older than `before` (the audit table refuses any younger than 30 days). */
    deleteOlderThan: (before: Date) => repo.deleteOlderThan(before),
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
