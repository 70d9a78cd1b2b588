import { Type } from 'typebox';
import type { App } from '../../platform/http/server.js';
import { ACCESS, errorResponses, Id, PAGE_QUERY, PageOf, Timestamp } from '../../platform/http/api-schema.js';
import type { Auth } from '../accounts/auth.service.js';
import type { AuditService } from './audit.service.js';
import { AUDIT_ACTIONS } from './audit.types.js';

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

export function auditRoutes(app: App, deps: { audit: Pick<AuditService, 'list'>; auth: Auth }): void {
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
      return deps.audit.list(request.query);
    },
  );
}
