import type { Static } from 'typebox';
import type { JobHandler } from '../../platform/queue/index.js';
import { addressOf, type Mailer } from '../../platform/mail/mailer.js';
import { bookingInvitation, type EventsService } from '../events/events.service.js';
import type { BookingsRepository } from './bookings.repository.js';
import type { BookingMailPayload } from './bookings.service.js';
import { bookingMail } from './views/booking-mail.js';

/**
 * Mails the booker their confirmation or cancellation with the calendar file.
 * Nothing when the booking or its event is gone (the event was deleted) or the
 * account was deleted, nor a confirmation of a booking cancelled before it went.
 */
export function bookingMailJob(deps: {
  repo: BookingsRepository;
  events: Pick<EventsService, 'findForWorker'>;
  mailer: Mailer;
  publicUrl: URL;
  /** MAIL_FROM: the invitation's organizer is this address, under the host's name (the host's own address is not shared). */
  mailFrom: string;
}): JobHandler<Static<typeof BookingMailPayload>> {
  return async (job) => {
    const { bookingId, change } = job.payload;
    const booking = await deps.repo.findForMail(bookingId);
    if (!booking || (change === 'confirmed' && booking.status !== 'confirmed')) return { sent: 0 };
    const event = await deps.events.findForWorker(booking.event_id);
    if (!event) return { sent: 0 };
    const to = { name: booking.user_name, email: booking.user_email };
    const invitation = bookingInvitation(event, deps.publicUrl, {
      id: booking.id,
      cancelled: change === 'cancelled',
      organizer: { name: event.owner_name, email: addressOf(deps.mailFrom) },
      attendee: to,
    });
    await deps.mailer.send(
      bookingMail({
        to,
        change,
        event: {
          title: event.title,
          venue: event.venue,
          startsAt: event.starts_at,
          endsAt: event.ends_at,
          timeZone: event.time_zone,
          url: new URL(`/events/${event.id}`, deps.publicUrl).href,
        },
        invitation,
      }),
    );
    return { sent: 1 };
  };
}
