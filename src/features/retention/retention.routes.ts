import { Type } from 'typebox';
import type { App } from '../../platform/http/server.js';
import { ACCESS, errorResponses, NoContent } from '../../platform/http/api-schema.js';
import { AppError } from '../../platform/http/errors.js';
import { ownEntry } from '../../platform/own-entry.js';
import type { Auth } from '../accounts/auth.service.js';
import type { AccountsService } from '../accounts/accounts.service.js';
import type { RetentionService } from './retention.service.js';

/** What the /me form asks the person to type, so a stray click deletes nothing. */
export const DELETE_CONFIRMATION = 'DELETE';

// The current password, as for a password change: a stolen session alone cannot delete the account.
const DeleteAccountBody = Type.Object({ password: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

/** Why the /me form did not delete the account, as a notice key of `/me`. */
const DELETE_NOTICES: Record<string, string> = {
  wrong_password: 'delete-wrong-password',
  rate_limited: 'delete-throttled',
};

export function retentionRoutes(app: App, deps: { retention: RetentionService; accounts: AccountsService; auth: Auth }): void {
  const { retention, accounts, auth } = deps;

  // The account is deleted and the session ends: the cookie is cleared too.
  app.delete(
    '/api/v1/me',
    {
      schema: {
        summary: 'Delete your account',
        description:
          'Needs your current password (it counts towards the login throttle). Personal data is removed or anonymised per the retention policy, and the session ends.',
        tags: ['auth'],
        security: ACCESS.signedIn,
        body: DeleteAccountBody,
        response: { 204: NoContent, ...errorResponses('wrong_password', 'rate_limited', 'not_found') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      await accounts.confirmPassword({ user: viewer, password: request.body.password, address: request.ip });
      await retention.deleteAccount(viewer.id);
      await auth.signOut(request, reply);
      return reply.code(204).send();
    },
  );

  app.post('/me/delete', async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect('/login?next=/me', 303);
    const form = (request.body ?? {}) as Record<string, string | undefined>;
    if (form.confirm?.trim() !== DELETE_CONFIRMATION || !form.password) return reply.redirect('/me?notice=delete-unconfirmed#account', 303);
    try {
      await accounts.confirmPassword({ user: viewer, password: form.password.slice(0, 200), address: request.ip });
    } catch (error) {
      const notice = error instanceof AppError ? ownEntry(DELETE_NOTICES, error.code) : undefined;
      if (!notice) throw error;
      return reply.redirect(`/me?notice=${notice}#account`, 303);
    }
    await retention.deleteAccount(viewer.id);
    await auth.signOut(request, reply);
    return reply.redirect('/?notice=account-deleted', 303);
  });
}
