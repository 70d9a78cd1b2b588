import type { App } from '../../platform/http/server.js';
import { AppError } from '../../platform/http/errors.js';
import { parsePageQuery } from '../../platform/http/pagination.js';
import type { Auth } from '../accounts/auth.js';
import { EventParams } from '../events/events.schema.js';
import type { BookingsService } from './bookings.service.js';

export function bookingsRoutes(app: App, deps: { bookings: BookingsService; auth: Auth }): void {
  const { bookings, auth } = deps;

  app.post('/api/v1/events/:id/bookings', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const { booking, created } = await bookings.book(request.params.id, viewer);
    return reply.code(created ? 201 : 200).send({ booking });
  });

  app.delete('/api/v1/events/:id/bookings/me', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    await bookings.cancel(request.params.id, viewer);
    return reply.code(204).send();
  });

  app.get('/api/v1/events/:id/bookings', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    return bookings.listForEvent(request.params.id, viewer, parsePageQuery(request.query));
  });

  app.get('/api/v1/me/bookings', async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    return bookings.listForUser(viewer.id, parsePageQuery(request.query));
  });

  // Forms on the event page.
  app.post('/events/:id/book', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(request.params.id)}`, 303);
    try {
      await bookings.book(request.params.id, viewer);
    } catch (error) {
      if (error instanceof AppError && error.code === 'event_full') return reply.redirect(`/events/${request.params.id}?notice=full`, 303);
      if (error instanceof AppError && error.code === 'booking_closed')
        return reply.redirect(`/events/${request.params.id}?notice=closed`, 303);
      throw error;
    }
    return reply.redirect(`/events/${request.params.id}?notice=booked`, 303);
  });

  app.post('/events/:id/cancel', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
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
