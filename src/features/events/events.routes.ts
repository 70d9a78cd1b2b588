import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SafeHtml } from '../../platform/http/html.js';
import type { PublicUser } from '../accounts/accounts.service.js';
import type { EventRow } from './events.repository.js';
import type { App } from '../../platform/http/server.js';
import { AppError } from '../../platform/http/errors.js';
import { cacheFor } from '../../platform/http/cache-control.js';
import { PAGE_TAGS } from '../../platform/http/public-pages.js';
import type { Reads, ReadsFor } from '../../platform/http/read-routing.js';
import { parsePageQuery } from '../../platform/http/pagination.js';
import { validate } from '../../platform/http/validation.js';
import { ownEntry } from '../../platform/own-entry.js';
import type { Auth } from '../accounts/auth.js';
import type { BookingsService } from '../bookings/bookings.service.js';
import { FLAGS, type FlagsService } from '../flags/flags.service.js';
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

const NOTICES: Record<string, string> = {
  booked: 'Your place is booked.',
  cancelled: 'Your booking is cancelled.',
  uploaded: 'Uploaded. The photos appear in the gallery as soon as they are processed.',
};

const UPLOAD_PROBLEMS: Record<string, string> = {
  too_large: 'A file was larger than allowed.',
  unsupported_type: 'Only whole JPEG, PNG, WebP, AVIF or GIF images can be uploaded.',
  validation_failed: 'Choose at least one image to upload.',
  rate_limited: 'Too many uploads; wait a little and try again.',
  forbidden: 'Only the host, an admin or someone with a booking can add photos.',
};

/** What an anonymous copy of a page shows, for the public page cache: one event (its page, its gallery), or the lists. */
export const eventPageTags = (request: FastifyRequest) => [PAGE_TAGS.event((request.params as { id: string }).id)];
const listPageTags = () => [PAGE_TAGS.lists];

const sendHtml = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(body);

/** Sections other features add to an event page (the gallery), given the page's query string and where the request reads. */
export type EventPageSections = (
  event: EventRow,
  viewer: PublicUser | null,
  query: Record<string, string | undefined>,
  reads: Reads,
) => Promise<SafeHtml>;

export function eventsRoutes(
  app: App,
  deps: {
    events: EventsService;
    bookings: BookingsService;
    auth: Auth;
    flags: Pick<FlagsService, 'isEnabled'>;
    reads: ReadsFor;
    pageSections?: EventPageSections;
  },
): void {
  const { events, bookings, auth, flags, reads } = deps;

  app.post('/api/v1/events', { schema: { body: CreateEventBody } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const event = await events.create(viewer, request.body);
    return reply.code(201).send(toEventJson(event));
  });

  app.get('/api/v1/events', { config: { publicPage: listPageTags } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    const list = await events.list(viewer, parsePageQuery(request.query), reads(request));
    cacheFor(reply, !viewer);
    return list;
  });

  app.get('/api/v1/events/:id', { schema: { params: EventParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    return toEventJson(await events.getVisible(request.params.id, viewer, reads(request)));
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
  app.get('/', { config: { publicPage: listPageTags } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    // Behind the home.counters flag: when it is off, the counting query does not run at all.
    const showCounters = await flags.isEnabled(FLAGS.homeCounters, viewer?.id ?? null);
    const [list, counters] = await Promise.all([
      events.list(viewer, parsePageQuery(request.query), reads(request)),
      showCounters ? events.counters(reads(request)) : null,
    ]);
    cacheFor(reply, !viewer);
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

  app.get('/events/:id', { schema: { params: EventParams }, config: { publicPage: eventPageTags } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    const event = await events.getVisible(request.params.id, viewer, reads(request));
    const canManage = isOwnerOrAdmin(event, viewer);
    const query = request.query as Record<string, string | undefined>;
    const [myBooking, attendees, extra] = await Promise.all([
      viewer ? bookings.myBooking(event.id, viewer.id) : null,
      canManage ? bookings.listForEvent(event.id, viewer!, { limit: 100, cursor: undefined }) : null,
      deps.pageSections?.(event, viewer, query, reads(request)),
    ]);
    const notice = query.notice ?? (query.upload === 'uploaded' ? 'uploaded' : undefined);
    cacheFor(reply, !viewer && event.visibility === 'public');
    const uploadProblem =
      query.upload && query.upload !== 'uploaded' ? (ownEntry(UPLOAD_PROBLEMS, query.upload) ?? 'The upload did not work.') : undefined;
    return sendHtml(
      reply,
      eventPage({
        viewer,
        event: toEventJson(event),
        canManage,
        myBooking,
        attendees: attendees?.items.map((b) => b.user) ?? null,
        notice: ownEntry(NOTICES, notice),
        problem: notice === 'full' ? 'Sorry, the event is full.' : uploadProblem,
        extra,
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
