import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.js';
import type { SafeHtml } from '../../platform/http/html.js';
import { AppError } from '../../platform/http/errors.js';
import { isUuid, parsePageQuery } from '../../platform/http/pagination.js';
import { ACCESS, errorResponses, Id, PAGE_QUERY, Timestamp } from '../../platform/http/api-schema.js';
import { ownEntry } from '../../platform/own-entry.js';
import type { Queue, JobStatus } from '../../platform/queue/index.js';
import type { Auth } from '../accounts/auth.service.js';
import type { AuditService } from '../audit/audit.service.js';
import { adminPage, auditSection, jobsSection } from './views/admin-page.js';

/** A part of /admin another feature renders (stats, backups, integrity). */
export type AdminSection = (request: FastifyRequest) => Promise<SafeHtml>;

const JobParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const JOB_STATES = ['queued', 'running', 'completed', 'dead'];
const JobsQuery = Type.Object({
  ...PAGE_QUERY,
  status: Type.Optional(
    Type.Unsafe<string>({ type: 'string', enum: ['', ...JOB_STATES], description: 'Only jobs in this state; empty: any.' }),
  ),
});
const JobSchema = Type.Object({
  id: Id,
  name: Type.String(),
  status: Type.Unsafe<string>({ type: 'string', enum: JOB_STATES }),
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  lastError: Type.Union([Type.String(), Type.Null()]),
  runAt: Timestamp,
  createdAt: Timestamp,
});
const JobsPage = Type.Object({
  items: Type.Array(JobSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
  counts: Type.Object({
    queued: Type.Integer(),
    running: Type.Integer(),
    completed: Type.Integer(),
    dead: Type.Integer(),
    oldestQueuedAgeSeconds: Type.Number({ description: 'How long the oldest due job has waited; 0 when none waits.' }),
  }),
});
const NOTICES: Record<string, string> = { retried: 'The job is queued again.' };

const toJobJson = (job: Awaited<ReturnType<Queue['get']>> & object) => ({
  id: job.id,
  name: job.name,
  status: job.status,
  attempts: job.attempts,
  maxAttempts: job.maxAttempts,
  lastError: job.lastError,
  runAt: job.runAt.toISOString(),
  createdAt: job.createdAt.toISOString(),
});

/**
 * /admin: every section on one page, role-protected (403 for non-admins,
 * sign-in for anonymous visitors); its forms are covered by the cross-site guard.
 */
export function adminRoutes(
  app: App,
  deps: { auth: Auth; queue: Queue; audit: Pick<AuditService, 'listNamed'>; sections: { before: AdminSection[]; after: AdminSection[] } },
): void {
  const { auth, queue } = deps;

  app.get('/admin', async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect('/login?next=/admin');
    await auth.requireAdmin(request);
    const query = request.query as Record<string, string | undefined>;
    const filter = { action: query.action, actorId: query.actorId, subjectType: query.subjectType, subjectId: query.subjectId };
    const [before, audit, counts, dead, after] = await Promise.all([
      Promise.all(deps.sections.before.map((section) => section(request))),
      deps.audit.listNamed({ ...filter, limit: '25', cursor: query.cursor }),
      queue.counts(),
      queue.list({ status: 'dead', limit: 20 }),
      Promise.all(deps.sections.after.map((section) => section(request))),
    ]);
    reply.header('cache-control', 'private, no-store');
    return reply.type('text/html; charset=utf-8').send(
      adminPage({
        viewer,
        notice: ownEntry(NOTICES, query.notice),
        sections: [
          ...before,
          auditSection({ items: audit.items, nextCursor: audit.nextCursor, filter }),
          jobsSection({ counts, failing: dead.items }),
          ...after,
        ],
      }),
    );
  });

  app.get(
    '/api/v1/admin/jobs',
    {
      schema: {
        summary: 'Background jobs, newest first, with counts per state',
        tags: ['admin'],
        security: ACCESS.signedIn,
        querystring: JobsQuery,
        response: { 200: JobsPage, ...errorResponses('forbidden', 'invalid_cursor') },
      },
    },
    async (request) => {
      await auth.requireAdmin(request);
      const page = parsePageQuery(request.query);
      const status = (request.query.status || undefined) as JobStatus | undefined;
      const jobs = await queue.list({ status, limit: page.limit, before: page.cursor });
      return { items: jobs.items.map(toJobJson), nextCursor: jobs.nextCursor, counts: await queue.counts() };
    },
  );

  app.post(
    '/api/v1/admin/jobs/:id/retry',
    {
      schema: {
        summary: 'Queue a dead job again',
        tags: ['admin'],
        security: ACCESS.signedIn,
        params: JobParams,
        response: { 200: Type.Object({ job: JobSchema }), ...errorResponses('forbidden', 'not_found') },
      },
    },
    async (request) => {
      await auth.requireAdmin(request);
      if (!isUuid(request.params.id) || !(await queue.retryDead(request.params.id)))
        throw new AppError('not_found', 'No dead job with that id.');
      return { job: toJobJson((await queue.get(request.params.id))!) };
    },
  );

  app.post('/admin/jobs/:id/retry', { schema: { params: JobParams } }, async (request, reply) => {
    await auth.requireAdmin(request);
    if (!isUuid(request.params.id) || !(await queue.retryDead(request.params.id)))
      throw new AppError('not_found', 'No dead job with that id.');
    return reply.redirect('/admin?notice=retried#jobs', 303);
  });
}
