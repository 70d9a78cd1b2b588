import type { FastifyReply } from 'fastify';
import type { App } from '../../platform/http/server.js';
import { AppError } from '../../platform/http/errors.js';
import { parsePageQuery } from '../../platform/http/pagination.js';
import { validate } from '../../platform/http/validation.js';
import type { Auth } from '../accounts/auth.js';
import type { BookingsService } from '../bookings/bookings.service.js';
import { CreateEventBody, EventParams, UpdateEventBody } from './events.schema.js';
import { type EventInput, type EventsService, isOwnerOrAdmin, toEventJson } from './events.service.js';
import { eventFormPage, eventPage, homePage } from './views/event-pages.js';

type FormBody = Record<string, string | undefined>;

/** datetime-local has no zone: the page's script sends the reader's offset; without it, UTC. */
function formInstant(value: string | undefined, offsetMinutes: string | undefined): string | undefined {
  if (!value) return undefined;
  const parsed = Date.parse(`${value}${value.length === 16 ? ':00' : ''}Z`);
  if (Number.isNaN(parsed)) return value; // left for validation to reject
  const offset = /^-?\d{1,4}$/.test(offsetMinutes ?? '') ? Number(offsetMinutes) : 0;
  return new Date(parsed + offset * 60_000).toISOString();
}

export function eventInputFromForm(form: FormBody): Record<string, unknown> {
  const capacity = form.capacity?.trim();
  return {
    title: form.title ?? '',
    description: form.description ?? '',
    venue: form.venue ?? '',
    startsAt: formInstant(form.startsAt, form.tzOffsetMinutes) ?? '',
    endsAt: formInstant(form.endsAt, form.tzOffsetMinutes) ?? null,
    capacity: capacity ? (/^\d+$/.test(capacity) ? Number(capacity) : capacity) : null,
    visibility: form.visibility ?? 'public',
  };
}

const sendHtml = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(body);

export function eventsRoutes(app: App, deps: { events: EventsService; bookings: BookingsService; auth: Auth }): void {
  const { events, bookings, auth } = deps;

  app.post('/api/v1/events', { schema: { body: CreateEventBody } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const event = await events.create(viewer, request.body);
    return reply.code(201).send(toEventJson(event));
  });

  app.get('/api/v1/events', async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    return events.list(viewer, parsePageQuery(request.query));
  });

  app.get('/api/v1/events/:id', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    return toEventJson(await events.getVisible(request.params.id, viewer));
  });

  app.patch('/api/v1/events/:id', { schema: { params: EventParams, body: UpdateEventBody } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    return toEventJson(await events.update(request.params.id, viewer, request.body));
  });

  app.delete('/api/v1/events/:id', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    await events.delete(request.params.id, viewer);
    return reply.code(204).send();
  });

  // Pages
  app.get('/', async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    const [list, counters] = await Promise.all([events.list(viewer, parsePageQuery(request.query)), events.counters()]);
    return sendHtml(reply, homePage({ viewer, events: list.items, nextCursor: list.nextCursor, counters }));
  });

  app.get('/events/new', async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect('/login?next=/events/new');
    return sendHtml(reply, eventFormPage({ viewer }));
  });

  app.post('/events', async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect('/login?next=/events/new', 303);
    const form = (request.body ?? {}) as FormBody;
    try {
      const event = await events.create(viewer, validate(CreateEventBody, eventInputFromForm(form)) as EventInput);
      return reply.redirect(`/events/${event.id}`, 303);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      const problems = (error.details as { field: string; problem: string }[] | undefined) ?? error.message;
      return sendHtml(reply, eventFormPage({ viewer, state: { values: form, problems } }), error.status);
    }
  });

  app.get('/events/:id', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    const event = await events.getVisible(request.params.id, viewer);
    const canManage = isOwnerOrAdmin(event, viewer);
    const [myBooking, attendees] = await Promise.all([
      viewer ? bookings.myBooking(event.id, viewer.id) : null,
      canManage ? bookings.listForEvent(event.id, viewer!, { limit: 100, cursor: undefined }) : null,
    ]);
    const notice = (request.query as { notice?: string }).notice;
    return sendHtml(
      reply,
      eventPage({
        viewer,
        event: toEventJson(event),
        canManage,
        myBooking,
        attendees: attendees?.items.map((b) => b.user) ?? null,
        notice: notice === 'booked' ? 'Your place is booked.' : notice === 'cancelled' ? 'Your booking is cancelled.' : undefined,
        problem: notice === 'full' ? 'Sorry, the event is full.' : undefined,
      }),
    );
  });

  app.get('/events/:id/edit', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(request.params.id)}/edit`);
    const event = await events.getManageable(request.params.id, viewer);
    return sendHtml(reply, eventFormPage({ viewer, event: toEventJson(event) }));
  });

  app.post('/events/:id/edit', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const form = (request.body ?? {}) as FormBody;
    const current = await events.getManageable(request.params.id, viewer);
    try {
      await events.update(current.id, viewer, validate(UpdateEventBody, eventInputFromForm(form)) as Partial<EventInput>);
      return reply.redirect(`/events/${current.id}`, 303);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      const problems = (error.details as { field: string; problem: string }[] | undefined) ?? error.message;
      return sendHtml(reply, eventFormPage({ viewer, event: toEventJson(current), state: { values: form, problems } }), error.status);
    }
  });

  app.post('/events/:id/delete', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    await events.delete(request.params.id, viewer);
    return reply.redirect('/me?notice=event-deleted', 303);
  });
}
