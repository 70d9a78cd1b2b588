import type { FastifyReply } from 'fastify';
import { AppError } from '../../platform/http/errors.js';
import type { App } from '../../platform/http/server.js';
import type { Auth } from '../accounts/auth.service.js';
import type { ExportsService } from './exports.service.js';
import { ExportEnvelope, ExportParams } from './exports.schema.js';
import { ACCESS, errorResponses, IdParams } from '../../platform/http/api-schema.js';

export function exportsRoutes(app: App, deps: { exports: ExportsService; auth: Auth }): void {
  const { exports, auth } = deps;

  app.post(
    '/api/v1/events/:id/exports',
    {
      schema: {
        summary: "Export an event: its details, bookings and photos' originals (owner or admin)",
        tags: ['exports'],
        security: ACCESS.signedIn,
        params: IdParams,
        response: { 202: ExportEnvelope, ...errorResponses('not_found', 'forbidden', 'rate_limited') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      return reply.code(202).send({ export: await exports.requestEventExport(request.params.id, viewer) });
    },
  );

  app.post(
    '/api/v1/me/exports',
    {
      schema: {
        summary: 'Export all of your own data',
        tags: ['exports'],
        security: ACCESS.signedIn,
        response: { 202: ExportEnvelope, ...errorResponses('rate_limited') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      return reply.code(202).send({ export: await exports.requestOwnExport(viewer) });
    },
  );

  app.get(
    '/api/v1/exports/:id',
    {
      schema: {
        summary: 'An export and, once ready, its download link (requester or admin)',
        tags: ['exports'],
        security: ACCESS.signedIn,
        params: ExportParams,
        response: { 200: ExportEnvelope, ...errorResponses('not_found') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      reply.header('cache-control', 'private, no-store');
      return { export: await exports.get(request.params.id, viewer) };
    },
  );

  // Forms on /me and on an event page: both end on /me, saying what became of the request.
  async function afterFormRequest(reply: FastifyReply, requested: Promise<unknown>) {
    try {
      await requested;
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'rate_limited') throw error;
      return reply.redirect('/me?notice=export-throttled#exports', 303);
    }
    return reply.redirect('/me?notice=export-requested#exports', 303);
  }

  app.post('/me/exports', async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    return afterFormRequest(reply, exports.requestOwnExport(viewer));
  });

  app.post('/events/:id/exports', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    return afterFormRequest(reply, exports.requestEventExport(request.params.id, viewer));
  });
}
