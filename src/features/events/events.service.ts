import crypto from 'node:crypto';
import { AppError } from '../../platform/http/errors.js';
import { decodeCursor, isUuid, type Page, type PageRequest, toPage } from '../../platform/http/pagination.js';
import type { Visibility } from '../../platform/db/schema.js';
import type { EventFields, EventRow, EventsRepository } from './events.repository.js';
import type { AuditRecorder } from '../audit/audit.recorder.js';

export interface Viewer {
  id: string;
  role: 'user' | 'admin';
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
}

export function toEventJson(row: EventRow): EventJson {
  return {
    id: row.id,
    slug: row.slug,
    title: row.title,
    description: row.description,
    venue: row.venue,
    startsAt: row.starts_at.toISOString(),
    endsAt: row.ends_at?.toISOString() ?? null,
    capacity: row.capacity,
    bookedCount: row.booked_count,
    visibility: row.visibility,
    owner: { id: row.owner_id, name: row.owner_name },
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

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
    throw new AppError('validation_failed', 'The end must not be before the start.', { details: [{ field: 'endsAt', problem: 'must not be before startsAt' }] });
  }
}

export const isOwnerOrAdmin = (event: EventRow, viewer: Viewer | null) => viewer !== null && (viewer.role === 'admin' || event.owner_id === viewer.id);

export function createEventsService(deps: { repo: EventsRepository; audit: AuditRecorder }) {
  const { repo, audit } = deps;

  /** The event if the viewer may see it: a private event is invisible (404) to anyone who neither owns it nor has booked it. */
  async function getVisible(id: string, viewer: Viewer | null): Promise<EventRow> {
    const event = isUuid(id) ? await repo.findById(id) : undefined;
    if (!event) throw new AppError('not_found', 'No such event.');
    if (event.visibility === 'private' && !isOwnerOrAdmin(event, viewer)) {
      if (!viewer || !(await repo.hasConfirmedBooking(event.id, viewer.id))) throw new AppError('not_found', 'No such event.');
    }
    return event;
  }

  async function getManageable(id: string, viewer: Viewer): Promise<EventRow> {
    const event = await getVisible(id, viewer);
    if (!isOwnerOrAdmin(event, viewer)) throw new AppError('forbidden', 'Only the event owner or an admin can do that.');
    return event;
  }

  return {
    getVisible,
    getManageable,

    async create(owner: Viewer, input: EventInput): Promise<EventRow> {
      const fields: EventFields = {
        title: input.title.trim(),
        description: input.description ?? '',
        venue: input.venue?.trim() ?? '',
        startsAt: new Date(input.startsAt),
        endsAt: input.endsAt ? new Date(input.endsAt) : null,
        capacity: input.capacity,
        visibility: input.visibility,
      };
      checkTimes(fields.startsAt, fields.endsAt);
      const id = await repo.insert(owner.id, slugFor(fields.title), fields);
      await audit.record({ action: 'event.create', actorId: owner.id, subjectType: 'event', subjectId: id });
      return (await repo.findById(id))!;
    },

    async list(viewer: Viewer | null, page: PageRequest): Promise<Page<EventJson>> {
      const after = page.cursor ? decodeCursor(page.cursor) : undefined;
      const rows = await repo.listUpcoming({ viewerId: viewer?.id ?? null, limit: page.limit, after, now: new Date() });
      return toPage(rows, page.limit, (row) => [row.starts_at.toISOString(), row.id], toEventJson);
    },

    async update(id: string, viewer: Viewer, input: Partial<EventInput>): Promise<EventRow> {
      const event = await getManageable(id, viewer);
      const changes: Partial<EventFields> = {};
      if (input.title !== undefined) changes.title = input.title.trim();
      if (input.description !== undefined) changes.description = input.description;
      if (input.venue !== undefined) changes.venue = input.venue.trim();
      if (input.startsAt !== undefined) changes.startsAt = new Date(input.startsAt);
      if (input.endsAt !== undefined) changes.endsAt = input.endsAt ? new Date(input.endsAt) : null;
      if (input.capacity !== undefined) changes.capacity = input.capacity;
      if (input.visibility !== undefined) changes.visibility = input.visibility;
      checkTimes(changes.startsAt ?? event.starts_at, changes.endsAt !== undefined ? changes.endsAt : event.ends_at);
      if (!(await repo.update(event.id, changes))) throw new AppError('capacity_below_bookings');
      await audit.record({ action: 'event.update', actorId: viewer.id, subjectType: 'event', subjectId: event.id, metadata: { fields: Object.keys(changes).join(',') } });
      return (await repo.findById(event.id))!;
    },

    async delete(id: string, viewer: Viewer): Promise<EventRow> {
      const event = await getManageable(id, viewer);
      await repo.delete(event.id);
      await audit.record({ action: 'event.delete', actorId: viewer.id, subjectType: 'event', subjectId: event.id });
      return event;
    },

    isAttendee: (eventId: string, userId: string) => repo.hasConfirmedBooking(eventId, userId),
    listOwnedBy: (ownerId: string) => repo.listOwnedBy(ownerId, 50),
    counters: () => repo.counters(new Date()),
  };
}

export type EventsService = ReturnType<typeof createEventsService>;
