import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SafeHtml } from '../../platform/http/html.js';
import type { PublicUser } from '../accounts/accounts.service.js';
import type { EventRow } from './events.types.js';
import type { App } from '../../platform/http/server.js';
import { AppError, ERRORS } from '../../platform/http/errors.js';
import { cacheFor, PRIVATE } from '../../platform/http/cache-control.js';
import { html } from '../../platform/http/html.js';
import { confirmed, confirmPage } from '../../ui/confirm.js';
import type { Reads, ReadsFor } from '../../platform/http/read-routing.js';
import { isUuid, parsePageQuery } from '../../platform/http/pagination.js';
import { validate } from '../../platform/http/validation.js';
import { ownEntry } from '../../platform/own-entry.js';
import type { Auth } from '../accounts/auth.service.js';
import type { BookingsService } from '../bookings/bookings.service.js';
import { FLAGS, type FlagsService } from '../flags/flags.service.js';
import type { TSchema } from 'typebox';
import { ACCESS, errorResponses, IdParams, NoContent, PageOf, PageQuery } from '../../platform/http/api-schema.js';
import { type FormProblems, problemsFrom } from '../../ui/forms.js';
import { CoverBody, CreateEventBody, EventSchema, UpdateEventBody } from './events.schema.js';
import { EVENT_ERRORS_BY_CODE, EVENT_FIELD_MESSAGES, type EventFormBody, readEventForm, type ReadEventForm } from './event-form.js';
import {
  EVENT_PAGES,
  type EventInput,
  type EventsService,
  eventPageTags,
  isOwnerOrAdmin,
  keepOutOfIndex,
  toEventJson,
} from './events.service.js';
import { type EventFormState, eventFormPage, eventPage, homePage } from './views/event-pages.js';
import { calendarFile } from './calendar.js';
import { calendarEntry } from './calendar-links.js';
import { attachmentDisposition } from '../../platform/storage/storage.js';
import type { LinkPreview } from '../../ui/layout.js';
import { invitesSection } from './views/invite-pages.js';
import type { InvitesService } from './invites.service.js';
import type { InvitePasses } from './invite-passes.js';

/**
 * The form's problems: what reading it found (a time that is no time) and
 * what the API's schema refuses, in plain language; null when it is valid.
 */
function formProblems(read: ReadEventForm, schema: TSchema): FormProblems | null {
  let problems: FormProblems = { fields: {} };
  try {
    validate(schema, read.input);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    problems = problemsFrom(error, EVENT_FIELD_MESSAGES);
  }
  problems.fields = { ...problems.fields, ...read.problems };
  return Object.keys(problems.fields).length > 0 || problems.general ? problems : null;
}

const NOTICES: Record<string, string> = {
  booked: 'Your place is booked.',
  cancelled: 'Your booking is cancelled.',
  uploaded: 'Uploaded. The photos appear in the gallery as soon as they are processed.',
  'invite-revoked': 'The invite link is revoked: nobody new gets in through it.',
};

const UPLOAD_PROBLEMS: Record<string, string> = {
  too_large: 'A file was larger than allowed.',
  unsupported_type: 'Only whole JPEG, PNG, WebP, AVIF or GIF images can be uploaded.',
  validation_failed: 'Choose at least one image to upload.',
  rate_limited: 'Too many uploads; wait a little and try again.',
  forbidden: 'Only the host, an admin or someone with a booking can add photos.',
};

/** What an anonymous copy of a page shows, for the public page cache: one event (its page, its gallery), or the lists. */
const listPageTags = () => [EVENT_PAGES.lists];

const sendHtml = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(body);

/** A not_found as nothing (the page tries another way); any other error stands. */
const nullIfNotFound = (error: unknown): null => {
  if (error instanceof AppError && error.code === 'not_found') return null;
  throw error;
};

type PageSections = { body: SafeHtml; previewImage?: LinkPreview['image'] };

/** Sections other features add to an event page (the gallery), given the page's query string and where the request reads. */
export interface EventPageSections {
  forViewer(
    event: EventRow,
    viewer: PublicUser | null,
    query: Record<string, string | undefined>,
    reads: Reads,
    /** Whether the viewer holds a booking, as the page already reads it: sections need not read it again. */
    viewerBooked: Promise<boolean>,
    /** The visitor's invite pass (invite-passes.ts), which may be what lets them see a private event. */
    invites: readonly string[],
  ): Promise<PageSections>;
  /**
   * The sections of the page of an event anyone may see, for a session not
   * yet checked, and who it turned out to be: the user while the session is
   * live, with their booking of the event, read with the sections in one
   * statement on the primary (sessions and bookings are never read from a
   * replica: decision 0012).
   */
  forSession(
    event: EventRow,
    session: { sessionId: string; userId: string },
    query: Record<string, string | undefined>,
  ): Promise<PageSections & { viewer: { user: PublicUser; bookingId: string | null } | null }>;
}

export function eventsRoutes(
  app: App,
  deps: {
    events: EventsService;
    bookings: BookingsService;
    auth: Auth;
    flags: Pick<FlagsService, 'isEnabled'>;
    reads: ReadsFor;
    publicUrl: URL;
    invites: InvitesService;
    passes: InvitePasses;
    pageSections?: EventPageSections;
  },
): void {
  const { events, bookings, auth, flags, reads, passes } = deps;

  app.post(
    '/api/v1/events',
    {
      schema: {
        summary: 'Create an event',
        tags: ['events'],
        security: ACCESS.signedIn,
        body: CreateEventBody,
        response: { 201: EventSchema },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      const event = await events.create(viewer, request.body);
      return reply.code(201).send(toEventJson(event));
    },
  );

  app.get(
    '/api/v1/events',
    {
      schema: {
        summary: 'Upcoming public events, and your own',
        tags: ['events'],
        security: ACCESS.anyoneOrSignedIn,
        querystring: PageQuery,
        response: { 200: PageOf(EventSchema), ...errorResponses('invalid_cursor') },
      },
      config: { publicPage: listPageTags },
    },
    async (request, reply) => {
      const viewer = await auth.currentUser(request, reply);
      const list = await events.list(viewer, parsePageQuery(request.query), reads(request));
      cacheFor(reply, !viewer);
      return list;
    },
  );

  app.get(
    '/api/v1/events/:id',
    {
      schema: {
        summary: 'An event',
        description: 'A private event is 404 to anyone who neither owns it, nor has booked it, nor has opened an active invite link to it.',
        tags: ['events'],
        security: ACCESS.anyoneOrSignedIn,
        params: IdParams,
        response: { 200: EventSchema, ...errorResponses('not_found') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.currentUser(request, reply);
      return toEventJson(await events.getVisible(request.params.id, viewer, reads(request), passes.read(request)));
    },
  );

  app.patch(
    '/api/v1/events/:id',
    {
      schema: {
        summary: 'Change an event (owner or admin)',
        tags: ['events'],
        security: ACCESS.signedIn,
        params: IdParams,
        body: UpdateEventBody,
        response: { 200: EventSchema, ...errorResponses('not_found', 'forbidden', 'capacity_below_bookings') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      return toEventJson(await events.update(request.params.id, viewer, request.body));
    },
  );

  app.put(
    '/api/v1/events/:id/cover',
    {
      schema: {
        summary: "Choose the event's cover (owner or admin)",
        description: 'The cover is one of the event’s ready photos; it shows on event cards and in link previews.',
        tags: ['events'],
        security: ACCESS.signedIn,
        params: IdParams,
        body: CoverBody,
        response: { 200: EventSchema, ...errorResponses('not_found', 'forbidden') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      return toEventJson(await events.setCover(request.params.id, viewer, request.body.photoId));
    },
  );

  app.delete(
    '/api/v1/events/:id/cover',
    {
      schema: {
        summary: "Remove the event's cover (owner or admin); the photo stays in the gallery",
        tags: ['events'],
        security: ACCESS.signedIn,
        params: IdParams,
        response: { 200: EventSchema, ...errorResponses('not_found', 'forbidden') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      return toEventJson(await events.setCover(request.params.id, viewer, null));
    },
  );

  app.delete(
    '/api/v1/events/:id',
    {
      schema: {
        summary: 'Delete an event with its bookings and photos (owner or admin)',
        tags: ['events'],
        security: ACCESS.signedIn,
        params: IdParams,
        response: { 204: NoContent, ...errorResponses('not_found', 'forbidden') },
      },
    },
    async (request, reply) => {
      const viewer = await auth.requireUser(request, reply);
      await events.delete(request.params.id, viewer);
      return reply.code(204).send();
    },
  );

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
    return sendHtml(reply, eventFormPage({ viewer, defaultTimeZone: events.defaultTimeZone }));
  });

  app.post('/events', async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect('/login?next=/events/new', 303);
    const form = (request.body ?? {}) as EventFormBody;
    const again = (state: EventFormState, status: number) =>
      sendHtml(reply, eventFormPage({ viewer, state, defaultTimeZone: events.defaultTimeZone }), status);
    const read = readEventForm(form, { defaultTimeZone: events.defaultTimeZone, now: new Date() });
    const problems = formProblems(read, CreateEventBody);
    if (problems) return again({ values: form, problems, pastWarning: read.startsInPast }, 400);
    // The API takes past times (imports, records); the form asks first.
    if (read.startsInPast && form.confirmPast !== 'yes') return again({ values: form, problems: { fields: {} }, pastWarning: true }, 200);
    try {
      const event = await events.create(viewer, read.input as unknown as EventInput);
      return reply.redirect(`/events/${event.id}`, 303);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      const refused = problemsFrom(error, EVENT_FIELD_MESSAGES, EVENT_ERRORS_BY_CODE);
      return again({ values: form, problems: refused, pastWarning: read.startsInPast }, error.status);
    }
  });

  app.get('/events/:id', { schema: { params: IdParams }, config: { publicPage: eventPageTags } }, async (request, reply) => {
    const invites = passes.read(request);
    const query = request.query as Record<string, string | undefined>;
    const read = await readEventPage(request, reply, query, invites);
    const { event, viewer, sections } = read;
    const canManage = isOwnerOrAdmin(event, viewer);
    const [attendees, inviteLinks] = await Promise.all([
      canManage ? bookings.listForEvent(event.id, viewer!, { limit: 100, cursor: undefined }) : null,
      canManage && event.visibility !== 'public' ? deps.invites.list(event.id, viewer!) : null,
    ]);
    const notice = query.notice ?? (query.upload === 'uploaded' ? 'uploaded' : undefined);
    cacheFor(reply, !viewer && event.visibility === 'public');
    keepOutOfIndex(reply, event);
    const uploadProblem =
      query.upload && query.upload !== 'uploaded' ? (ownEntry(UPLOAD_PROBLEMS, query.upload) ?? 'The upload did not work.') : undefined;
    return sendHtml(
      reply,
      eventPage({
        viewer,
        event: toEventJson(event),
        canManage,
        myBooking: read.bookingId ? { id: read.bookingId } : null,
        attendees: attendees?.items.map((b) => b.user) ?? null,
        notice: ownEntry(NOTICES, notice),
        problem: notice === 'full' ? 'Sorry, the event is full.' : notice === 'closed' ? ERRORS.booking_closed.message : uploadProblem,
        extra: inviteLinks
          ? html`${invitesSection({ eventId: event.id, visibility: event.visibility, invites: inviteLinks })}${sections?.body ?? ''}`
          : sections?.body,
        previewImage: sections?.previewImage,
        publicUrl: deps.publicUrl,
      }),
    );
  });

  /**
   * What an event page shows and for whom: the event, the viewer and their
   * booking, and the other features' sections. A signed-in page of an event
   * anyone may see (public, unlisted, or private to the invite pass the
   * request holds) reads the viewer with its gallery, in one statement; any
   * other reads the session and the viewer's booking first (one statement),
   * then the event for that viewer, then the sections.
   */
  async function readEventPage(
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
    query: Record<string, string | undefined>,
    invites: readonly string[],
  ): Promise<{ event: EventRow; viewer: PublicUser | null; bookingId: string | null; sections?: PageSections }> {
    const { id } = request.params;
    const session = isUuid(id) && deps.pageSections ? auth.claimedSession(request) : null;
    if (session) {
      // Who the viewer is changes what the page offers them, not whether they see such an event.
      const event = await events.getVisible(id, null, reads(request), invites).catch(nullIfNotFound);
      if (event) {
        const { viewer, ...sections } = await deps.pageSections!.forSession(event, session, query);
        auth.settle(request, reply, session, viewer?.user ?? null);
        return { event, viewer: viewer?.user ?? null, bookingId: viewer?.bookingId ?? null, sections };
      }
    }
    // The session and the viewer's booking of this event in one statement (an id of another spelling is no event: 404 below).
    const { user: viewer, extra: bookingId } = isUuid(id)
      ? await auth.currentUserWith(request, reply, bookings.confirmedBookingOf(id))
      : { user: await auth.currentUser(request, reply), extra: undefined };
    const event = await events.getVisible(id, viewer, reads(request), invites);
    const booking: Promise<string | null> = !viewer
      ? Promise.resolve(null)
      : bookingId !== undefined
        ? Promise.resolve(bookingId)
        : bookings.myBooking(event.id, viewer.id).then((mine) => mine?.id ?? null);
    const [mine, sections] = await Promise.all([
      booking,
      deps.pageSections?.forViewer(event, viewer, query, reads(request), booking.then(Boolean), invites),
    ]);
    return { event, viewer, bookingId: mine, sections };
  }

  // "Add to calendar": the event as an iCalendar file, for whoever may see the event (404 to others, as its page).
  app.get('/events/:id/calendar.ics', { schema: { params: IdParams }, config: { publicPage: eventPageTags } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    const event = toEventJson(await events.getVisible(request.params.id, viewer, reads(request), passes.read(request)));
    cacheFor(reply, !viewer && event.visibility === 'public');
    keepOutOfIndex(reply, event);
    return reply
      .type('text/calendar; charset=utf-8')
      .header('content-disposition', attachmentDisposition(`${event.slug}.ics`))
      .send(calendarFile('PUBLISH', calendarEntry(event, deps.publicUrl)));
  });

  app.get('/events/:id/edit', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(request.params.id)}/edit`);
    const event = await events.getManageable(request.params.id, viewer);
    return sendHtml(reply, eventFormPage({ viewer, event: toEventJson(event), defaultTimeZone: events.defaultTimeZone }));
  });

  app.post('/events/:id/edit', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const form = (request.body ?? {}) as EventFormBody;
    const current = toEventJson(await events.getManageable(request.params.id, viewer));
    const again = (state: EventFormState, status: number) =>
      sendHtml(reply, eventFormPage({ viewer, event: current, state, defaultTimeZone: events.defaultTimeZone }), status);
    const read = readEventForm(form, { defaultTimeZone: events.defaultTimeZone, current, now: new Date() });
    // Nothing changed: nothing to save.
    if (Object.keys(read.input).length === 0 && Object.keys(read.problems).length === 0)
      return reply.redirect(`/events/${current.id}`, 303);
    const problems = formProblems(read, UpdateEventBody);
    if (problems) return again({ values: form, problems, pastWarning: read.startsInPast }, 400);
    if (read.startsInPast && form.confirmPast !== 'yes') return again({ values: form, problems: { fields: {} }, pastWarning: true }, 200);
    try {
      await events.update(current.id, viewer, read.input);
      return reply.redirect(`/events/${current.id}`, 303);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      const refused = problemsFrom(error, EVENT_FIELD_MESSAGES, EVENT_ERRORS_BY_CODE);
      return again({ values: form, problems: refused, pastWarning: read.startsInPast }, error.status);
    }
  });

  // The photo viewer's "Use as cover" (and "Remove as cover") form. Replacing a cover asks first, on a page of its own.
  app.post('/events/:id/cover', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    const form = (request.body ?? {}) as { photoId?: unknown; remove?: unknown };
    const photoId = typeof form.photoId === 'string' ? form.photoId : '';
    const event = await events.getManageable(request.params.id, viewer);
    const back = `/events/${event.id}/photos/${encodeURIComponent(photoId)}`;
    if (form.remove === 'yes') {
      await events.setCover(event.id, viewer, null);
      return reply.redirect(back, 303);
    }
    if (event.cover_photo_id && event.cover_photo_id !== photoId && !confirmed(form)) {
      reply.header('cache-control', PRIVATE);
      return sendHtml(
        reply,
        confirmPage({
          viewer,
          heading: 'Replace the cover?',
          body: html`<p>This photo becomes the cover of “${event.title}” on event cards and in shared links, in place of the current one.
            The current cover stays in the gallery.</p>`,
          action: `/events/${event.id}/cover`,
          fields: { photoId },
          button: 'Replace the cover',
          back: { href: back, label: 'Keep the current cover' },
        }),
      );
    }
    await events.setCover(event.id, viewer, photoId);
    return reply.redirect(back, 303);
  });

  app.get('/events/:id/delete', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.currentUser(request, reply);
    if (!viewer) return reply.redirect(`/login?next=/events/${encodeURIComponent(request.params.id)}/delete`);
    const event = await events.getManageable(request.params.id, viewer);
    const bookingsText = event.booked_count === 1 ? '1 booking' : `${event.booked_count} bookings`;
    reply.header('cache-control', PRIVATE);
    return sendHtml(
      reply,
      confirmPage({
        viewer,
        heading: `Delete “${event.title}”?`,
        body: html`<p>This deletes the event, its ${bookingsText} and all its photos, for everyone. It cannot be undone.</p>`,
        action: `/events/${event.id}/delete`,
        button: 'Delete event',
        back: { href: `/events/${event.id}`, label: 'Keep the event' },
      }),
    );
  });

  app.post('/events/:id/delete', { schema: { params: IdParams } }, async (request, reply) => {
    const viewer = await auth.requireUser(request, reply);
    if (!confirmed(request.body)) return reply.redirect(`/events/${encodeURIComponent(request.params.id)}/delete`, 303);
    await events.delete(request.params.id, viewer);
    return reply.redirect('/me?notice=event-deleted', 303);
  });
}
