import { Type } from 'typebox';
import type { App } from '../../platform/http/server.js';
import { ACCESS } from '../../platform/http/api-schema.js';
import type { SafeHtml } from '../../platform/http/html.js';
import type { Auth } from '../accounts/auth.service.js';
import { type OpenApiDocument, referenceBody, referencePage } from './views/reference-page.js';

/** The OpenAPI document of the JSON API, and a page that shows it to people. */
export function apiReferenceRoutes(app: App, deps: { auth: Auth }): void {
  app.get(
    '/api/v1/openapi.json',
    {
      schema: {
        summary: 'This API, described in OpenAPI 3.1',
        tags: ['operations'],
        security: ACCESS.anyone,
        response: { 200: Type.Object({ openapi: Type.String() }, { additionalProperties: true }) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=60');
      return app.swagger() as { openapi: string };
    },
  );

  // The document is fixed once the routes are registered, so the page body is rendered once.
  let body: SafeHtml | undefined;
  app.get('/api/docs', async (request, reply) => {
    body ??= referenceBody(app.swagger() as unknown as OpenApiDocument);
    const viewer = await deps.auth.currentUser(request, reply);
    return reply.type('text/html; charset=utf-8').send(referencePage(body, viewer));
  });
}
