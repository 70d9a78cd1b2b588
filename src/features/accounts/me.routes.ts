import type { App } from '../../platform/http/server.js';
import type { BookingsService } from '../bookings/bookings.service.js';
import type { EventsService } from '../events/events.service.js';
import type { ExportsService } from '../exports/exports.service.js';
import type { Auth } from './auth.service.js';
import { ownEntry } from '../../platform/own-entry.js';
import { mePage } from './views/me-page.js';

const NOTICES: Record<string, string> = {
  'event-deleted': 'The event was deleted.',
  'export-requested': 'Export requested. It is being prepared; this page shows when it is ready.',
  'export-throttled': 'No export was started: you have asked for too many in the last hour. Wait a little and try again.',
  'delete-unconfirmed': 'Your account was not deleted: type DELETE in the box and give your password to confirm.',
  'delete-wrong-password': 'Your account was not deleted: the password is not right.',
  'delete-throttled': 'Your account was not deleted: too many wrong attempts. Wait a few minutes and try again.',
  'password-changed': 'Your password was changed, and every other device was signed out.',
  'password-reset': 'Your new password is set, and every device that was signed in before was signed out.',
  'password-wrong': 'Your password was not changed: the current password is not right.',
  'password-invalid': 'Your password was not changed: give your current password, and a new one of 8 to 200 characters.',
  'password-throttled': 'Your password was not changed: too many wrong attempts. Wait a few minutes and try again.',
};

export function meRoutes(app: App, deps: { auth: Auth; bookings: BookingsService; events: EventsService; exports: ExportsService }): void {
  app.get('/me', async (request, reply) => {
    const viewer = await deps.auth.currentUser(request, reply);
    if (!viewer) return reply.redirect('/login?next=/me');
    const [bookings, events, exports] = await Promise.all([
      deps.bookings.listForUser(viewer.id, { limit: 50, cursor: undefined }),
      deps.events.listOwnedBy(viewer.id),
      deps.exports.listMine(viewer),
    ]);
    const notice = ownEntry(NOTICES, (request.query as { notice?: unknown }).notice);
    return reply.type('text/html; charset=utf-8').send(mePage({ viewer, bookings: bookings.items, events, exports, notice }));
  });
}
