import { Type } from 'typebox';
import { AppError } from '../../platform/http/errors.js';
import type { Queue } from '../../platform/queue/index.js';
import { decodeCursor, isUuid, type Page, type PageRequest, toPage } from '../../platform/http/pagination.js';
import type { Viewer } from '../accounts/accounts.types.js';
import type { EventsService } from '../events/events.service.js';
import { sql, type AliasableExpression, type Expression } from 'kysely';
import type { Booker, BookingsRepository, BookingRow } from './bookings.repository.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import { isoString } from '../../platform/iso-time.js';

export interface BookingJson {
  id: string;
  status: 'confirmed' | 'cancelled';
  eventId: string;
  createdAt: string;
}

export const toBookingJson = (row: BookingRow): BookingJson => ({
  id: row.id,
  status: row.status,
  eventId: row.event_id,
  createdAt: isoString(row.created_at),
});

/** A booker already known to be signed in (the session was read for the page): the statement takes them as they are. */
export const signedInBooker = (viewer: Viewer): Booker => ({ id: viewer.id, checked: { role: viewer.role } });

/** Mails the booker a confirmation or a cancellation, with the calendar invitation attached. */
export const BOOKING_MAIL_JOB = 'bookings.mail';
export const BookingMailPayload = Type.Object(
  { bookingId: Type.String({ minLength: 36, maxLength: 36 }), change: Type.Union([Type.Literal('confirmed'), Type.Literal('cancelled')]) },
  { additionalProperties: false },
);

/** Bookings close, and can no longer be cancelled, once the event has started. */
export const hasStarted = (event: { starts_at: Date }, now = new Date()) => event.starts_at <= now;

export function createBookingsService(deps: {
  repo: BookingsRepository;
  events: EventsService;
  audit: AuditRecorder;
  queue: Queue<{ [BOOKING_MAIL_JOB]: typeof BookingMailPayload }>;
  /**
   * Whether mail goes anywhere (SMTP, or the dev mailbox). Off (production
   * without SMTP_URL) a booking writes no mail job: it would only be claimed,
   * logged and completed, a second job per booking for nothing.
   */
  mailOn: boolean;
}) {
  const { repo, events, audit } = deps;

  return {
    /** A confirmed booking; `created` is false when the caller already had one. Closed once the event has started. */
    async book(eventId: string, booker: Booker): Promise<{ booking: BookingJson; created: boolean }> {
      // Only an id's one spelling names an event (other spellings are no id, and no cache holds a second copy).
      if (!isUuid(eventId)) throw new AppError('not_found', 'No such event.');
      // One statement checks the session, that the event is there for the booker and open, and writes the booking
      // with its audit row and its confirmation mail's job.
      const result = await repo.book(eventId, booker, (bookingId) => [
        audit.rowWith({
          action: 'booking.create',
          actorId: booker.id,
          subjectType: 'booking',
          subjectId: bookingId,
          metadata: { eventId },
        }),
        ...(deps.mailOn ? [deps.queue.outbox(BOOKING_MAIL_JOB, { bookingId, change: 'confirmed' })] : []),
      ]);
      switch (result.kind) {
        case 'signed_out':
          throw new AppError('not_signed_in');
        case 'full':
          throw new AppError('event_full');
        case 'closed':
          throw new AppError('booking_closed');
        case 'gone':
          throw new AppError('not_found', 'No such event.');
        case 'created':
          await events.bookingsChanged(eventId);
          return { booking: toBookingJson(result.booking), created: true };
        case 'existing':
          return { booking: toBookingJson(result.booking), created: false };
      }
    },

    /** Cancels the caller's booking, until the event starts. */
    async cancel(eventId: string, viewer: Viewer): Promise<BookingJson | null> {
      const event = await events.getVisible(eventId, viewer);
      if (hasStarted(event)) throw new AppError('booking_closed', 'The event has started: bookings can no longer be cancelled.');
      const cancelled = await repo.cancel(event.id, viewer.id, async (tx, booking) => {
        await audit.writeIn(
          { action: 'booking.cancel', actorId: viewer.id, subjectType: 'booking', subjectId: booking.id, metadata: { eventId: event.id } },
          tx,
        );
        if (deps.mailOn) await deps.queue.enqueue(BOOKING_MAIL_JOB, { bookingId: booking.id, change: 'cancelled' }, { executor: tx });
      });
      if (!cancelled) return null;
      await events.bookingsChanged(event.id);
      return toBookingJson(cancelled);
    },

    /** The id of a user's confirmed booking of the event (null for none), as SQL of their id: see auth.currentUserWith. */
    confirmedBookingOf:
      (eventId: string) =>
      (userId: Expression<string>): AliasableExpression<string | null> =>
        sql<string | null>`(SELECT id FROM bookings WHERE event_id = ${eventId}::uuid AND user_id = ${userId} AND status = 'confirmed')`,

    async myBooking(eventId: string, viewerId: string): Promise<BookingJson | null> {
      const row = await repo.findConfirmed(eventId, viewerId);
      return row ? toBookingJson(row) : null;
    },

    async listForEvent(eventId: string, viewer: Viewer, page: PageRequest) {
      const event = await events.getManageable(eventId, viewer);
      const rows = await repo.listForEvent(event.id, page.limit, page.cursor ? decodeCursor(page.cursor) : undefined);
      return toPage(
        rows,
        page.limit,
        (row) => [isoString(row.created_at), row.id],
        (row) => ({
          id: row.id,
          status: row.status,
          createdAt: isoString(row.created_at),
          user: { id: row.user_id, name: row.user_name },
        }),
      );
    },

    async listForUser(
      userId: string,
      page: PageRequest,
    ): Promise<Page<BookingJson & { event: { id: string; title: string; startsAt: string; venue: string; timeZone: string } }>> {
      const rows = await repo.listForUser(userId, page.limit, page.cursor ? decodeCursor(page.cursor) : undefined);
      return toPage(
        rows,
        page.limit,
        (row) => [isoString(row.created_at), row.id],
        (row) => ({
          id: row.id,
          status: row.status,
          eventId: row.event_id,
          createdAt: isoString(row.created_at),
          event: {
            id: row.event_id,
            title: row.event_title,
            startsAt: isoString(row.event_starts_at),
            venue: row.event_venue,
            timeZone: row.event_time_zone,
          },
        }),
      );
    },
  };
}

export type BookingsService = ReturnType<typeof createBookingsService>;
