import { Type } from 'typebox';
import type { App } from '../../platform/http/server.js';
import { ACCESS, errorResponses, Id, PAGE_QUERY, PageOf, Timestamp } from '../../platform/http/api-schema.js';
import { AppError } from '../../platform/http/errors.js';
import { decodeCursor, isUuid, parsePageQuery, toPage } from '../../platform/http/pagination.js';
import type { Auth } from '../accounts/auth.service.js';
import type { AuditFilter, AuditRepository, AuditRow } from './audit.repository.js';
import { AUDIT_ACTIONS } from './audit.types.js';

export const toAuditJson = (row: AuditRow) => ({
  id: row.id,
  at: row.at.toISOString(),
  action: row.action,
  actorId: row.actor_id,
  subjectType: row.subject_type,
  subjectId: row.subject_id,
  requestId: row.request_id,
});

/** Filters from a query string (API or the admin page's form), checked so bad values are a 400, not a database error. */
export function parseAuditFilter(query: Record<string, string | undefined>): AuditFilter {
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

const AuditQuery = Type.Object({
  ...PAGE_QUERY,
  action: Type.Optional(
    Type.Unsafe<string>({ type: 'string', enum: ['', ...AUDIT_ACTIONS], description: 'Only this action; empty: any.' }),
  ),
  actorId: Type.Optional(Type.String({ description: 'Only entries by this user id; empty: anyone.' })),
  subjectType: Type.Optional(Type.String({ description: 'Only subjects of this type (its first 40 characters count).' })),
  subjectId: Type.Optional(Type.String({ description: 'Only this subject (its first 100 characters count).' })),
});

const AuditEntry = Type.Object({
  id: Id,
  at: Timestamp,
  action: Type.String(),
  actorId: Type.Union([Id, Type.Null()], { description: 'Null for the system or an operator command.' }),
  subjectType: Type.String(),
  subjectId: Type.String(),
  requestId: Type.Union([Type.String(), Type.Null()]),
});

export async function listAudit(repo: AuditRepository, query: Record<string, string | undefined>) {
  const page = parsePageQuery(query);
  const rows = await repo.list(parseAuditFilter(query), page.limit, page.cursor ? decodeCursor(page.cursor) : undefined);
  return toPage(rows, page.limit, (row) => [row.at.toISOString(), row.id], toAuditJson);
}

export function auditRoutes(app: App, deps: { repo: AuditRepository; auth: Auth }): void {
  app.get(
    '/api/v1/admin/audit',
    {
      schema: {
        summary: 'The audit trail, newest first',
        tags: ['admin'],
        security: ACCESS.signedIn,
        querystring: AuditQuery,
        response: { 200: PageOf(AuditEntry), ...errorResponses('forbidden', 'invalid_cursor') },
      },
    },
    async (request, reply) => {
      await deps.auth.requireAdmin(request);
      reply.header('cache-control', 'private, no-store');
      return listAudit(deps.repo, request.query);
    },
  );
}
