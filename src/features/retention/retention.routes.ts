import type { App } from '../../platform/http/server.js';
import { ACCESS, errorResponses, NoContent } from '../../platform/http/api-schema.js';
import type { Auth } from '../accounts/auth.js';
import type { RetentionService } from './retention.service.js';

/** What the /me form asks the person to type, so a stray click deletes nothing. */
export const DELETE_CONFIRMATION = 'DELETE';

export function retentionRoutes(app: App, deps: { retention: RetentionService; auth: Auth }): void {
  const { retention, auth } = deps;

  // The account is deleted and the session ends: the cookie is cleared too.
  app.delete(
    '/api/v1/me',
    {
      schema: {
        summary: 'Delete your account',
        description: 'Personal data is removed or anonymised per the retention policy, and the session ends.',
        tags: ['auth'],
        security: ACCESS.signedIn,
        response: { 204: NoContent, ...errorResponses('not_found') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      await retention.deleteAccount(viewer.id);
      await auth.signOut(request, reply);
      return reply.code(204).send();
    },
  );

  app.post('/me/delete', async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect('/login?next=/me', 303);
    const confirmation = ((request.body ?? {}) as Record<string, string | undefined>).confirm?.trim();
    if (confirmation !== DELETE_CONFIRMATION) return reply.redirect('/me?notice=delete-unconfirmed#account', 303);
    await retention.deleteAccount(viewer.id);
    await auth.signOut(request, reply);
    return reply.redirect('/?notice=account-deleted', 303);
  });
}
