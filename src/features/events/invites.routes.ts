import type { App } from '../../platform/http/server.js';
import { PRIVATE } from '../../platform/http/cache-control.js';
import { ACCESS, errorResponses, IdParams, NoContent } from '../../platform/http/api-schema.js';
import { AppError } from '../../platform/http/errors.js';
import type { Auth } from '../accounts/auth.service.js';
import type { EventsService } from './events.service.js';
import { toEventJson } from './events.service.js';
import type { InvitePasses } from './invite-passes.js';
import type { InvitesService } from './invites.service.js';
import { CreatedInviteSchema, CreateInviteBody, InviteList, InviteParams, OpenedInviteSchema, OpenInviteBody } from './events.schema.js';
import { INVITE_LIFETIMES, inviteCreatedPage } from './views/invite-pages.js';
import { ownEntry } from '../../platform/own-entry.js';
import { html } from '../../platform/http/html.js';
import { confirmed, confirmPage } from '../../ui/confirm.js';

/**
 * Responses that carry or follow an invite token: stored by no cache. No Referer can carry the token: it is in no
 * document's address (the link answers with a redirect, the new link is shown in answer to a POST), and the site's
 * strict-origin-when-cross-origin (decision 0015) sends only the origin to other sites anyway.
 */
const NO_TRACE = { 'cache-control': PRIVATE };

export function invitesRoutes(app: App, deps: { invites: InvitesService; events: EventsService; auth: Auth; passes: InvitePasses }): void {
  const { invites, events, auth, passes } = deps;

  app.post(
    '/api/v1/events/:id/invites',
    {
      schema: {
        summary: 'Create an invite link to a private or unlisted event (owner or admin)',
        description:
          'The answer holds the link, with its token, this once: only a hash of the token is stored. 409 conflict for a public event.',
        tags: ['invites'],
        security: ACCESS.signedIn,
        params: IdParams,
        body: CreateInviteBody,
        response: { 201: CreatedInviteSchema, ...errorResponses('not_found', 'forbidden', 'conflict') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      const created = await invites.create(request.params.id, viewer, request.body);
      return reply.code(201).headers(NO_TRACE).send(created);
    },
  );

  app.get(
    '/api/v1/events/:id/invites',
    {
      schema: {
        summary: "An event's invite links, newest first (owner or admin)",
        description: 'Without their tokens, which are not stored.',
        tags: ['invites'],
        security: ACCESS.signedIn,
        params: IdParams,
        response: { 200: InviteList, ...errorResponses('not_found', 'forbidden') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      return { items: await invites.list(request.params.id, viewer) };
    },
  );

  app.delete(
    '/api/v1/events/:id/invites/:inviteId',
    {
      schema: {
        summary: 'Revoke an invite link (owner or admin)',
        description: 'Nobody new gets in through it; bookings made through it stay.',
        tags: ['invites'],
        security: ACCESS.signedIn,
        params: InviteParams,
        response: { 204: NoContent, ...errorResponses('not_found', 'forbidden') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      await invites.revoke(request.params.id, request.params.inviteId, viewer);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/invites/open',
    {
      schema: {
        summary: 'Open an invite link',
        description:
          "The link's event, and a cookie (`epu_invites`) that lets this client see it and book it while the invite is active. 404 for a wrong, revoked or expired token alike.",
        tags: ['invites'],
        security: ACCESS.anyoneOrSignedIn,
        body: OpenInviteBody,
        response: { 200: OpenedInviteSchema, ...errorResponses('not_found') },
      },
    },
    async (request, reply) => {
      const invite = await invites.open(request.body.token);
      const viewer = await auth.currentUser(request, reply);
      const event = await events.getVisible(invite.event_id, viewer, undefined, [invite.id]);
      passes.add(request, reply, invite.id);
      return reply.headers(NO_TRACE).send({ event: toEventJson(event) });
    },
  );

  // The link itself: a pass for the browser, then the event's own address, so the token leaves the address bar
  // (and any Referer) at once. The token is a query parameter: access logs drop query strings and traces redact
  // `token` (decision 0030).
  app.get('/invite', async (request, reply) => {
    reply.headers(NO_TRACE);
    const invite = await invites.open((request.query as { token?: unknown }).token);
    passes.add(request, reply, invite.id);
    return reply.redirect(`/events/${invite.event_id}`, 303);
  });

  app.post('/events/:id/invites', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const lifetime = ownEntry(INVITE_LIFETIMES, (request.body as { expires?: unknown } | undefined)?.expires ?? 'never');
    if (!lifetime) throw new AppError('validation_failed', 'Choose when the link expires from the list.');
    const expiresAt = lifetime.days === null ? null : new Date(Date.now() + lifetime.days * 86_400_000).toISOString();
    const { invite, url } = await invites.create(request.params.id, viewer, { expiresAt });
    const event = toEventJson(await events.getManageable(invite.eventId, viewer));
    // Rendered in answer to the POST, never behind a redirect: the link must not appear in an address.
    return reply.headers(NO_TRACE).type('text/html; charset=utf-8').send(inviteCreatedPage({ viewer, event, url, invite }));
  });

  // Revoking asks first (ui/confirm.ts): a link pasted into a group chat cannot be taken back by making another.
  app.get('/events/:id/invites/:inviteId/revoke', { schema: { params: InviteParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    const { id, inviteId } = request.params;
    if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(id)}`);
    const event = await events.getManageable(id, viewer);
    return reply
      .header('cache-control', PRIVATE)
      .type('text/html; charset=utf-8')
      .send(
        confirmPage({
          viewer,
          heading: `Revoke this invite link to “${event.title}”?`,
          body: html`<p>Nobody new gets in through it. People who booked through it keep their place; people who only looked lose access.</p>`,
          action: `/events/${event.id}/invites/${encodeURIComponent(inviteId)}/revoke`,
          button: 'Revoke the link',
          back: { href: `/events/${event.id}`, label: 'Keep it' },
        }),
      );
  });

  app.post('/events/:id/invites/:inviteId/revoke', { schema: { params: InviteParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const { id, inviteId } = request.params;
    if (!confirmed(request.body))
      return reply.redirect(`/events/${encodeURIComponent(id)}/invites/${encodeURIComponent(inviteId)}/revoke`, 303);
    await invites.revoke(id, inviteId, viewer);
    return reply.redirect(`/events/${encodeURIComponent(id)}?notice=invite-revoked`, 303);
  });
}
