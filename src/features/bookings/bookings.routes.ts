import type { FastifyRequest } from 'fastify';
import type { App } from '../../platform/http/server.js';
import { AppError } from '../../platform/http/errors.js';
import { parsePageQuery } from '../../platform/http/pagination.js';
import { ACCESS, errorResponses, IdParams, NoContent, PageOf, PageQuery } from '../../platform/http/api-schema.js';
import type { Auth } from '../accounts/auth.service.js';
import type { EventsService } from '../events/events.service.js';
import { PRIVATE } from '../../platform/http/cache-control.js';
import { html } from '../../platform/http/html.js';
import { confirmed, confirmPage } from '../../ui/confirm.js';
import { signedInBooker, type BookingsService } from './bookings.service.js';
import { BookingEnvelope, EventBooking, MyBooking } from './bookings.schema.js';

export function bookingsRoutes(
  app: App,
  deps: {
    bookings: BookingsService;
    events: Pick<EventsService, 'getVisible'>;
    auth: Auth;
    /** The caller's invite pass (events/invite-passes.ts): it lets them book a private event they were invited to. */
    invites: (request: FastifyRequest) => readonly string[];
  },
): void {
  const { bookings, events, auth } = deps;

  app.post(
    '/api/v1/events/:id/bookings',
    {
      schema: {
        summary: 'Book a place',
        description:
          'Confirmed bookings never exceed the capacity. 200 with the existing booking when you already have one; 409 booking_closed once the event has started.',
        tags: ['bookings'],
        security: ACCESS.signedIn,
        params: IdParams,
        response: { 201: BookingEnvelope, 200: BookingEnvelope, ...errorResponses('not_found', 'event_full', 'booking_closed') },
      },
    },
    async (request, reply) => {
      // The booking statement checks the session itself: one round trip for the whole request.
      const booker = { ...auth.checkedCaller(request, reply), invites: deps.invites(request) };
      const { booking, created } = await bookings.book(request.params.id, booker);
      return reply.code(created ? 201 : 200).send({ booking });
    },
  );

  app.delete(
    '/api/v1/events/:id/bookings/me',
    {
      schema: {
        summary: 'Cancel your booking',
        tags: ['bookings'],
        security: ACCESS.signedIn,
        params: IdParams,
        response: { 204: NoContent, ...errorResponses('not_found', 'booking_closed') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      await bookings.cancel(request.params.id, viewer);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/events/:id/bookings',
    {
      schema: {
        summary: "An event's bookings (owner or admin)",
        tags: ['bookings'],
        security: ACCESS.signedIn,
        params: IdParams,
        querystring: PageQuery,
        response: { 200: PageOf(EventBooking), ...errorResponses('not_found', 'forbidden', 'invalid_cursor') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      return bookings.listForEvent(request.params.id, viewer, parsePageQuery(request.query));
    },
  );

  app.get(
    '/api/v1/me/bookings',
    {
      schema: {
        summary: 'Your bookings',
        tags: ['bookings'],
        security: ACCESS.signedIn,
        querystring: PageQuery,
        response: { 200: PageOf(MyBooking), ...errorResponses('invalid_cursor') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      return bookings.listForUser(viewer.id, parsePageQuery(request.query));
    },
  );

  // Forms on the event page.
  app.post('/events/:id/book', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(request.params.id)}`, 303);
    try {
      await bookings.book(request.params.id, { ...signedInBooker(viewer), invites: deps.invites(request) });
    } catch (error) {
      if (error instanceof AppError && error.code === 'event_full') return reply.redirect(`/events/${request.params.id}?notice=full`, 303);
      if (error instanceof AppError && error.code === 'booking_closed')
        return reply.redirect(`/events/${request.params.id}?notice=closed`, 303);
      throw error;
    }
    return reply.redirect(`/events/${request.params.id}?notice=booked`, 303);
  });

  app.get('/events/:id/cancel', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(request.params.id)}/cancel`);
    const event = await events.getVisible(request.params.id, viewer);
    // Nothing to cancel (already cancelled, say in another tab): back to the event.
    if (!(await bookings.myBooking(event.id, viewer.id))) return reply.redirect(`/events/${event.id}`);
    reply.header('cache-control', PRIVATE);
    return reply.type('text/html; charset=utf-8').send(
      confirmPage({
        viewer,
        heading: `Cancel your place at “${event.title}”?`,
        body: html`<p>Your place goes to whoever books next. You can book again while places are left and the event has not started.</p>`,
        action: `/events/${event.id}/cancel`,
        button: 'Cancel my booking',
        back: { href: `/events/${event.id}`, label: 'Keep my place' },
      }),
    );
  });

  app.post('/events/:id/cancel', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    if (!confirmed(request.body)) return reply.redirect(`/events/${encodeURIComponent(request.params.id)}/cancel`, 303);
    try {
      await bookings.cancel(request.params.id, viewer);
    } catch (error) {
      if (error instanceof AppError && error.code === 'booking_closed')
        return reply.redirect(`/events/${request.params.id}?notice=closed`, 303);
      throw error;
    }
    return reply.redirect(`/events/${request.params.id}?notice=cancelled`, 303);
  });
}
