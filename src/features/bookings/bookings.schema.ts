import { Type } from 'typebox';
import { Id, Timestamp } from '../../platform/http/api-schema.js';

const BookingStatus = Type.Union([Type.Literal('confirmed'), Type.Literal('cancelled')]);

export const BookingEnvelope = Type.Object({
  booking: Type.Object({ id: Id, status: BookingStatus, eventId: Id, createdAt: Timestamp }),
});

/** A booking as the event's owner sees it: who booked. */
export const EventBooking = Type.Object({
  id: Id,
  status: BookingStatus,
  createdAt: Timestamp,
  user: Type.Object({ id: Id, name: Type.String() }),
});

/** A booking as its holder sees it: which event. */
export const MyBooking = Type.Object({
  id: Id,
  status: BookingStatus,
  eventId: Id,
  createdAt: Timestamp,
  event: Type.Object({ id: Id, title: Type.String(), startsAt: Timestamp, venue: Type.String(), timeZone: Type.String() }),
});
