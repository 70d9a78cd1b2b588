// iCalendar files (RFC 5545) for an event: the invitation attached to booking
// mail (METHOD:REQUEST, then METHOD:CANCEL with the same UID), and a plain
// "Add to calendar" download (METHOD:PUBLISH). Times are written in UTC, which
// every client reads the same way without a VTIMEZONE block; the event's own
// zone is named (X-WR-TIMEZONE, and the local time in the description).
import { isoString } from '../../platform/iso-time.js';

export type CalendarMethod = 'PUBLISH' | 'REQUEST' | 'CANCEL';

export interface CalendarPerson {
  name: string;
  email: string;
}

export interface CalendarEvent {
  /** Stable for one calendar entry: a later file with the same UID updates or cancels it. */
  uid: string;
  /** The entry's revision: a client applies a file only over a lower one (a CANCEL after its REQUEST). */
  sequence: number;
  title: string;
  description: string;
  venue: string;
  startsAt: Date;
  /** Null: the event has no set end, and the entry none either. */
  endsAt: Date | null;
  /** IANA name of the zone the event happens in. */
  timeZone: string;
  url: string;
  status: 'CONFIRMED' | 'CANCELLED';
  /** REQUEST and CANCEL (RFC 5546) name who sends the invitation and whom it is for. */
  organizer?: CalendarPerson;
  attendee?: CalendarPerson;
}

/** Longest content line in octets, CRLF not counted (RFC 5545 3.1). */
const MAX_LINE_OCTETS = 75;

// Control characters other than tab and newline (those are escaped or kept).
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const DROPPED_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

/** A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped; other control characters dropped. */
export function escapeText(value: string): string {
  return value
    .replace(/\r\n?/g, '\n')
    .replace(DROPPED_CONTROLS, '')
    .replace(/[\\;,]/g, (character) => `\\${character}`)
    .replace(/\n/g, '\\n');
}

/** A quoted parameter value (CN): RFC 6868's caret encoding for ^, " and newlines; other control characters dropped. */
function quoteParameter(value: string): string {
  const encoded = value.replace(/\r\n?/g, '\n').replace(DROPPED_CONTROLS, '').replace(/\^/g, '^^').replace(/"/g, "^'").replace(/\n/g, '^n');
  return `"${encoded}"`;
}

/**
 * Folds a content line: at most 75 octets each, continuation lines starting
 * with one space, never splitting a UTF-8 character (RFC 5545 3.1).
 */
export function foldLine(line: string): string {
  const parts: string[] = [];
  let current = '';
  let octets = 0;
  for (const character of line) {
    const size = Buffer.byteLength(character);
    if (octets + size > MAX_LINE_OCTETS) {
      parts.push(current);
      // The leading space of the continuation line counts towards its 75.
      current = ' ';
      octets = 1;
    }
    current += character;
    octets += size;
  }
  parts.push(current);
  return parts.join('\r\n');
}

/** 20310110T170000Z: a UTC DATE-TIME. */
export function utcDateTime(instant: Date): string {
  return isoString(instant)
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

const mailto = (email: string) => `mailto:${email.replace(/[\r\n]/g, '')}`;

/** The whole file, lines ending in CRLF. `now` is the DTSTAMP (when the file was made). */
export function calendarFile(method: CalendarMethod, event: CalendarEvent, now: Date = new Date()): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//EPU//Events//EN',
    'CALSCALE:GREGORIAN',
    `METHOD:${method}`,
    `X-WR-TIMEZONE:${escapeText(event.timeZone)}`,
    'BEGIN:VEVENT',
    `UID:${escapeText(event.uid)}`,
    `SEQUENCE:${event.sequence}`,
    `DTSTAMP:${utcDateTime(now)}`,
    `DTSTART:${utcDateTime(event.startsAt)}`,
    ...(event.endsAt ? [`DTEND:${utcDateTime(event.endsAt)}`] : []),
    `SUMMARY:${escapeText(event.title)}`,
    ...(event.description ? [`DESCRIPTION:${escapeText(event.description)}`] : []),
    ...(event.venue ? [`LOCATION:${escapeText(event.venue)}`] : []),
    `URL:${event.url.replace(/[\r\n]/g, '')}`,
    `STATUS:${event.status}`,
    ...(event.organizer ? [`ORGANIZER;CN=${quoteParameter(event.organizer.name)}:${mailto(event.organizer.email)}`] : []),
    ...(event.attendee
      ? [
          `ATTENDEE;CN=${quoteParameter(event.attendee.name)};ROLE=REQ-PARTICIPANT;PARTSTAT=${
            event.status === 'CANCELLED' ? 'DECLINED' : 'ACCEPTED'
          };RSVP=FALSE:${mailto(event.attendee.email)}`,
        ]
      : []),
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return lines.map(foldLine).join('\r\n') + '\r\n';
}
