// Where an event page sends people: their calendar (the .ics download, a
// Google Calendar template) and a map of the venue. Each is built from the
// event as the API shows it, so the page, the download and mail agree.
import { type CalendarEvent, utcDateTime } from './calendar.js';
import type { EventJson } from './events.service.js';
import { scheduleText } from '../../ui/format.js';

/** Google truncates long template links; the description is cut well below that. */
const MAX_DETAILS = 1_000;

export const eventUrl = (event: Pick<EventJson, 'id'>, publicUrl: URL) => new URL(`/events/${event.id}`, publicUrl).href;

const times = (event: Pick<EventJson, 'startsAt' | 'endsAt' | 'timeZone'>) => ({
  startsAt: new Date(event.startsAt),
  endsAt: event.endsAt ? new Date(event.endsAt) : null,
  timeZone: event.timeZone,
});

/** The event as one calendar entry: one UID per event, so a later download replaces an earlier one. */
export function calendarEntry(event: EventJson, publicUrl: URL): CalendarEvent {
  const when = times(event);
  return {
    uid: `event-${event.id}@${publicUrl.hostname}`,
    sequence: 0,
    title: event.title,
    // The local time first: a client showing the entry in another zone still tells the reader the event's own clock.
    description: [scheduleText(when), event.description].filter(Boolean).join('\n\n'),
    venue: event.venue,
    ...when,
    url: eventUrl(event, publicUrl),
    status: 'CONFIRMED',
  };
}

/** Google Calendar's "create event" template, filled in; an event without an end gets a zero-length entry, as the .ics does. */
export function googleCalendarUrl(event: EventJson, publicUrl: URL): string {
  const { startsAt, endsAt } = times(event);
  const link = eventUrl(event, publicUrl);
  const description = event.description.length > MAX_DETAILS ? `${event.description.slice(0, MAX_DETAILS)}…` : event.description;
  const query = new URLSearchParams({
    action: 'TEMPLATE',
    text: event.title,
    dates: `${utcDateTime(startsAt)}/${utcDateTime(endsAt ?? startsAt)}`,
    ctz: event.timeZone,
    details: [description, link].filter(Boolean).join('\n\n'),
    ...(event.venue && { location: event.venue }),
  });
  return `https://calendar.google.com/calendar/render?${query}`;
}

/** A map search for the venue as typed (an address or a place name), on OpenStreetMap: no account, no tracking. */
export function mapUrl(venue: string): string {
  return `https://www.openstreetmap.org/search?${new URLSearchParams({ query: venue })}`;
}
