import crypto from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { AppError } from '../../platform/http/errors.js';
import { parseInstant } from '../../platform/http/validation.js';
import { decodeCursor, isUuid, type Page, type PageRequest, toPage } from '../../platform/http/pagination.js';
import type { Visibility } from '../../platform/db/schema.js';
import type { ContentChanges } from '../../platform/http/public-pages.js';
import type { Cache } from '../../platform/cache/index.js';
import type { Reads } from '../../platform/http/read-routing.js';
import type { Executor } from '../../platform/db/pool.js';
import type { EventFields, EventsRepository } from './events.repository.js';
import type { EventRow } from './events.types.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import type { Viewer } from '../accounts/accounts.types.js';
import { normalizeTimeZone } from './time-zones.js';
import { calendarFile, type CalendarPerson } from './calendar.js';
import { calendarEntry } from './calendar-links.js';
import type { InvitesRepository } from './invites.repository.js';
import { isoString } from '../../platform/iso-time.js';

/** The public page cache's tags (platform/http/public-pages) for what events show; photos change an event's page too. */
export const EVENT_PAGES = {
  /** An event's page, its gallery and its photos' viewer pages. */
  event: (eventId: string) => `event:${eventId}`,
  /** The public lists: the home page and GET /api/v1/events. */
  lists: 'lists',
} as const;

/** The tags of a page at /events/:id... (a route's `publicPage`). */
export const eventPageTags = (request: { params: unknown }) => [EVENT_PAGES.event((request.params as { id: string }).id)];

/** Unlisted and private events stay out of search engines, whatever the format (the page's meta tag covers HTML only). */
export function keepOutOfIndex(reply: Pick<FastifyReply, 'header'>, event: Pick<EventRow, 'visibility'>): void {
  if (event.visibility !== 'public') reply.header('x-robots-tag', 'noindex');
}

export interface EventJson {
  id: string;
  slug: string;
  title: string;
  description: string;
  venue: string;
  startsAt: string;
  endsAt: string | null;
  capacity: number | null;
  bookedCount: number;
  visibility: Visibility;
  /** IANA name: the clock the event's times are shown and typed on. */
  timeZone: string;
  /** The cover photo (one of the event's ready photos), shown on cards and in link previews; its pictures: GET /photos/:id. */
  cover: { photoId: string } | null;
  owner: { id: string; name: string };
  createdAt: string;
  updatedAt: string;
}

export interface EventInput {
  title: string;
  description?: string;
  venue?: string;
  startsAt: string;
  endsAt?: string | null;
  capacity: number | null;
  visibility: Visibility;
  /** Unset on create: the instance's DEFAULT_TIME_ZONE. */
  timeZone?: string;
}

export function toEventJson(row: EventRow): EventJson {
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    description: row.description,
    venue: row.venue,
    startsAt: isoString(row.starts_at),
    endsAt: row.ends_at ? isoString(row.ends_at) : null,
    capacity: row.capacity,
    bookedCount: row.booked_count,
    visibility: row.visibility,
    timeZone: row.time_zone,
    cover: row.cover_photo_id ? { photoId: row.cover_photo_id } : null,
    owner: { id: row.owner_id, name: row.owner_name },
    createdAt: isoString(row.created_at),
    updatedAt: isoString(row.updated_at),
  };
}

/** The inverse of toEventJson: the cache keeps events as JSON, callers get rows. */
export function fromEventJson(json: EventJson): EventRow {
  return {
    id: json.id,
    slug: json.slug,
    title: json.title,
    description: json.description,
    venue: json.venue,
    starts_at: new Date(json.startsAt),
    ends_at: json.endsAt === null ? null : new Date(json.endsAt),
    capacity: json.capacity,
    booked_count: json.bookedCount,
    visibility: json.visibility,
    // A copy cached by a release from before time zones (decision 0022) has none: those events were shown in UTC.
    time_zone: json.timeZone ?? 'UTC',
    // Likewise, a copy from before covers (decision 0042) has none.
    cover_photo_id: json.cover?.photoId ?? null,
    owner_id: json.owner.id,
    owner_name: json.owner.name,
    created_at: new Date(json.createdAt),
    updated_at: new Date(json.updatedAt),
  };
}

// Cached reads: the same for every viewer. Private and unlisted events and
// signed-in viewers' lists are never cached (they depend on who asks).
const CACHE_KEYS = {
  event: (id: string) => `event:${id}`,
  /** The first page of the public list at the default page size: the home page and a bare GET /api/v1/events. */
  upcomingFirstPage: 'events:upcoming',
  homeCounters: 'home:counters',
};
const CACHED_LIST_LIMIT = 20;

export function slugFor(title: string): string {
  const base = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return `${base || 'event'}-${crypto.randomBytes(4).toString('hex')}`;
}

function checkTimes(startsAt: Date, endsAt: Date | null): void {
  if (endsAt && endsAt < startsAt) {
    throw new AppError('validation_failed', 'The end must not be before the start.', {
      details: [{ field: 'endsAt', problem: 'must not be before startsAt' }],
    });
  }
}

function checkTimeZone(value: string): string {
  const zone = normalizeTimeZone(value);
  if (!zone) {
    throw new AppError('validation_failed', 'Choose a time zone by its IANA name, such as Europe/Berlin.', {
      details: [{ field: 'timeZone', problem: 'must be an IANA time zone name such as Europe/Berlin' }],
    });
  }
  return zone;
}

export const isOwnerOrAdmin = (event: EventRow, viewer: Viewer | null) =>
  viewer !== null && (viewer.role === 'admin' || event.owner_id === viewer.id);

/**
 * `reads` (read-heavy requests only): where to read and whether the shared
 * cache may answer. Without it (writes, jobs, the CLI) reads go to the primary
 * and past the cache.
 */
/** The stored files that belong to an event (its photos' objects), removed with it. */
export interface EventObjects {
  /** Locks the event's photo rows in `tx` and returns their objects' keys. */
  keysOf(eventId: string, tx: Executor): Promise<string[]>;
  remove(keys: string[]): Promise<void>;
}

/**
 * A booking's calendar invitation for its booker, attached to booking mail:
 * REQUEST when booked, then CANCEL with the same UID and a higher SEQUENCE, so
 * the cancellation removes the entry the confirmation added (RFC 5546).
 */
export function bookingInvitation(
  event: EventRow,
  publicUrl: URL,
  booking: { id: string; cancelled: boolean; organizer: CalendarPerson; attendee: CalendarPerson },
): { method: 'REQUEST' | 'CANCEL'; file: string } {
  const method = booking.cancelled ? 'CANCEL' : 'REQUEST';
  const file = calendarFile(method, {
    ...calendarEntry(toEventJson(event), publicUrl),
    uid: `booking-${booking.id}@${publicUrl.hostname}`,
    sequence: booking.cancelled ? 1 : 0,
    status: booking.cancelled ? 'CANCELLED' : 'CONFIRMED',
    organizer: booking.organizer,
    attendee: booking.attendee,
  });
  return { method, file };
}

export function createEventsService(deps: {
  repo: EventsRepository;
  audit: AuditRecorder;
  cache: Cache;
  cacheTtlSeconds: number;
  /** DEFAULT_TIME_ZONE: the zone of an event created without one. */
  defaultTimeZone: string;
  /** Anonymous pages that show events (their pages and the lists). */
  pages: ContentChanges;
  objects?: EventObjects;
  /** Invite links: a private event is visible to whoever holds an active one (invites.service.ts). */
  invites: Pick<InvitesRepository, 'anyActive'>;
}) {
  const { repo, audit, cache, cacheTtlSeconds: ttl, pages } = deps;

  async function find(id: string, reads: Reads | undefined): Promise<EventRow | undefined> {
    if (!reads?.cacheable) return repo.findById(id, reads?.db);
    const json = await cache.wrap(
      CACHE_KEYS.event(id),
      ttl,
      async () => {
        const row = await repo.findById(id, reads.db);
        return row ? toEventJson(row) : null;
      },
      { cacheable: (event) => event?.visibility === 'public' },
    );
    return json ? fromEventJson(json) : undefined;
  }

  /** After a write: the event's cached copy, the public list, the counters and the pages showing them may all have changed. */
  async function invalidate(eventId?: string): Promise<void> {
    await cache.delete(...(eventId ? [CACHE_KEYS.event(eventId)] : []), CACHE_KEYS.upcomingFirstPage, CACHE_KEYS.homeCounters);
    pages.announce(...(eventId ? [EVENT_PAGES.event(eventId)] : []), EVENT_PAGES.lists);
  }

  /**
   * After a booking or a cancellation: the event's count changed. Its data and
   * its own page go at once; the lists' pages show every event's count, and
   * dropping them on every booking would leave them uncached under load, so
   * anonymous lists catch up within PUBLIC_PAGE_CACHE_SECONDS (decision 0016).
   */
  async function bookingsChanged(eventId: string): Promise<void> {
    await cache.delete(CACHE_KEYS.event(eventId), CACHE_KEYS.upcomingFirstPage, CACHE_KEYS.homeCounters);
    pages.announce(EVENT_PAGES.event(eventId));
  }

  /**
   * The event if the viewer may see it: a private event is invisible (404) to
   * anyone who neither owns it, nor has booked it, nor holds an active invite
   * to it (`invites`: the ids of the visitor's invite pass, invite-passes.ts).
   */
  async function getVisible(id: string, viewer: Viewer | null, reads?: Reads, invites: readonly string[] = []): Promise<EventRow> {
    const event = isUuid(id) ? await find(id, reads) : undefined;
    if (!event) throw new AppError('not_found', 'No such event.');
    if (event.visibility === 'private' && !isOwnerOrAdmin(event, viewer)) {
      const booked = viewer !== null && (await repo.hasConfirmedBooking(event.id, viewer.id));
      if (!booked && !(await deps.invites.anyActive(event.id, invites))) throw new AppError('not_found', 'No such event.');
    }
    return event;
  }

  async function getManageable(id: string, viewer: Viewer): Promise<EventRow> {
    const event = await getVisible(id, viewer);
    if (!isOwnerOrAdmin(event, viewer)) throw new AppError('forbidden', 'Only the event owner or an admin can do that.');
    return event;
  }

  return {
    defaultTimeZone: deps.defaultTimeZone,
    getVisible,
    /** The event whatever its visibility, or undefined: for the worker's own use (booking mail), never to answer a request. */
    findForWorker: (id: string): Promise<EventRow | undefined> => repo.findById(id),
    getManageable,
    invalidate,
    bookingsChanged,

    async create(owner: Viewer, input: EventInput): Promise<EventRow> {
      const fields: EventFields = {
        title: input.title.trim(),
        description: input.description ?? '',
        venue: input.venue?.trim() ?? '',
        startsAt: parseInstant(input.startsAt, 'startsAt'),
        endsAt: input.endsAt ? parseInstant(input.endsAt, 'endsAt') : null,
        capacity: input.capacity,
        visibility: input.visibility,
        timeZone: checkTimeZone(input.timeZone ?? deps.defaultTimeZone),
      };
      checkTimes(fields.startsAt, fields.endsAt);
      // The event, its places and its audit entry commit together; the caches are dropped after the commit.
      const id = await repo.insert(owner.id, slugFor(fields.title), fields, (tx, eventId) =>
        audit.record({ action: 'event.create', actorId: owner.id, subjectType: 'event', subjectId: eventId }, tx),
      );
      await invalidate();
      return (await repo.findById(id))!;
    },

    async list(viewer: Viewer | null, page: PageRequest, reads?: Reads): Promise<Page<EventJson>> {
      const load = async () => {
        const after = page.cursor ? decodeCursor(page.cursor) : undefined;
        const rows = await repo.listUpcoming({ viewerId: viewer?.id ?? null, limit: page.limit, after, now: new Date() }, reads?.db);
        return toPage(rows, page.limit, (row) => [isoString(row.starts_at), row.id], toEventJson);
      };
      const sameForEveryone = !viewer && !page.cursor && page.limit === CACHED_LIST_LIMIT;
      return reads?.cacheable && sameForEveryone ? cache.wrap(CACHE_KEYS.upcomingFirstPage, ttl, load) : load();
    },

    async update(id: string, viewer: Viewer, input: Partial<EventInput>): Promise<EventRow> {
      const event = await getManageable(id, viewer);
      const changes: Partial<EventFields> = {};
      if (input.title !== undefined) changes.title = input.title.trim();
      if (input.description !== undefined) changes.description = input.description;
      if (input.venue !== undefined) changes.venue = input.venue.trim();
      if (input.startsAt !== undefined) changes.startsAt = parseInstant(input.startsAt, 'startsAt');
      if (input.endsAt !== undefined) changes.endsAt = input.endsAt ? parseInstant(input.endsAt, 'endsAt') : null;
      if (input.capacity !== undefined) changes.capacity = input.capacity;
      if (input.visibility !== undefined) changes.visibility = input.visibility;
      if (input.timeZone !== undefined) changes.timeZone = checkTimeZone(input.timeZone);
      checkTimes(changes.startsAt ?? event.starts_at, changes.endsAt !== undefined ? changes.endsAt : event.ends_at);
      const updated = await repo.update(event.id, changes, (tx) =>
        audit.record(
          {
            action: 'event.update',
            actorId: viewer.id,
            subjectType: 'event',
            subjectId: event.id,
            metadata: { fields: Object.keys(changes).join(',') },
          },
          tx,
        ),
      );
      if (!updated) throw new AppError('capacity_below_bookings');
      await invalidate(event.id);
      return (await repo.findById(event.id))!;
    },

    /**
     * Makes one of the event's ready photos its cover (null: no cover), for its
     * host or an admin: 404 for a photo that is not a ready photo of this event.
     */
    async setCover(id: string, viewer: Viewer, photoId: string | null): Promise<EventRow> {
      const event = await getManageable(id, viewer);
      const set =
        (photoId === null || isUuid(photoId)) &&
        (await repo.setCover(event.id, photoId, (tx) =>
          audit.record(
            { action: 'event.update', actorId: viewer.id, subjectType: 'event', subjectId: event.id, metadata: { fields: 'cover' } },
            tx,
          ),
        ));
      if (!set) throw new AppError('not_found', 'No ready photo of this event has that id.');
      await invalidate(event.id);
      return (await repo.findById(event.id))!;
    },

    async delete(id: string, viewer: Viewer): Promise<EventRow> {
      const event = await getManageable(id, viewer);
      // The files' keys are read in the deleting transaction, their rows locked, before the rows go with the
      // event (ON DELETE CASCADE); the files go after the commit. A photo becoming ready meanwhile waits for
      // the lock, then finds itself gone and removes its own new files (photos.jobs).
      const keys = await repo.delete(event.id, {
        before: async (tx) => (await deps.objects?.keysOf(event.id, tx)) ?? [],
        within: (tx) => audit.record({ action: 'event.delete', actorId: viewer.id, subjectType: 'event', subjectId: event.id }, tx),
      });
      await deps.objects?.remove(keys);
      await invalidate(event.id);
      return event;
    },

    isAttendee: (eventId: string, userId: string) => repo.hasConfirmedBooking(eventId, userId),
    listOwnedBy: (ownerId: string, limit = 50) => repo.listOwnedBy(ownerId, limit),
    /** Without a visibility check: for jobs carrying out a request that was checked when it was made (exports). */
    findById: (id: string) => repo.findById(id),
    counters(reads?: Reads) {
      const load = () => repo.counters(new Date(), reads?.db);
      return reads?.cacheable ? cache.wrap(CACHE_KEYS.homeCounters, ttl, load) : load();
    },
  };
}

export type EventsService = ReturnType<typeof createEventsService>;
