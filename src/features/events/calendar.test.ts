import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { calendarFile, escapeText, foldLine, utcDateTime, type CalendarEvent } from './calendar.js';

const event: CalendarEvent = {
  uid: 'booking-6f1c0d6e-3d41-4c55-9d64-8c3b2f7a9e10@epu.example',
  sequence: 0,
  title: 'Rooftop party; bring snacks, drinks \\ friends',
  description:
    'Friday 10 January 2031, 18:00 – 21:30 Berlin time (GMT+1)\n\nZweite Zeile mit Umlauten: äöü ß — and a very long line that must be folded because it runs well past seventy-five octets.',
  venue: 'Dach, Hausnummer 5; Berlin',
  startsAt: new Date('2031-01-10T17:00:00Z'),
  endsAt: new Date('2031-01-10T20:30:00Z'),
  timeZone: 'Europe/Berlin',
  url: 'https://epu.example/events/6f1c0d6e-3d41-4c55-9d64-8c3b2f7a9e10',
  status: 'CONFIRMED',
  organizer: { name: 'Hazel "the host" Hopper', email: 'no-reply@epu.example' },
  attendee: { name: 'Ada Lovelace', email: 'ada@example.test' },
};

function parse(file: string) {
  const calendar = new ICAL.Component(ICAL.parse(file));
  return { calendar, vevent: calendar.getFirstSubcomponent('vevent')! };
}

describe('iCalendar files', () => {
  it('escapes TEXT values and drops control characters', () => {
    expect(escapeText('a\\b;c,d\ne\r\nf\u0007g')).toBe('a\\\\b\\;c\\,d\\ne\\nfg');
  });

  it('folds lines at 75 octets without splitting a UTF-8 character', () => {
    const line = `DESCRIPTION:${'ä'.repeat(100)}`;
    const folded = foldLine(line);
    const parts = folded.split('\r\n');
    expect(parts.length).toBeGreaterThan(2);
    for (const part of parts) expect(Buffer.byteLength(part)).toBeLessThanOrEqual(75);
    for (const part of parts.slice(1)) expect(part.startsWith(' ')).toBe(true);
    // Unfolding (CRLF + one space removed) gives the line back, every character whole.
    expect(folded.replace(/\r\n /g, '')).toBe(line);
    expect(folded).not.toContain('\uFFFD');
  });

  it('writes a REQUEST a calendar parser reads back: UID, times in UTC, zone named, text unescaped', () => {
    const file = calendarFile('REQUEST', event, new Date('2030-12-01T08:00:00Z'));
    expect(file.endsWith('\r\n')).toBe(true);
    expect(file.split('\r\n').every((line) => Buffer.byteLength(line) <= 75)).toBe(true);
    expect(file.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const { calendar, vevent } = parse(file);
    expect(calendar.getFirstPropertyValue('method')).toBe('REQUEST');
    expect(calendar.getFirstPropertyValue('x-wr-timezone')).toBe('Europe/Berlin');
    expect(vevent.getFirstPropertyValue('uid')).toBe(event.uid);
    expect(vevent.getFirstPropertyValue('sequence')).toBe(0);
    const start = vevent.getFirstPropertyValue('dtstart') as ICAL.Time;
    expect(start.zone?.tzid).toBe('UTC');
    expect(start.toJSDate().toISOString()).toBe('2031-01-10T17:00:00.000Z');
    expect((vevent.getFirstPropertyValue('dtend') as ICAL.Time).toJSDate().toISOString()).toBe('2031-01-10T20:30:00.000Z');
    expect((vevent.getFirstPropertyValue('dtstamp') as ICAL.Time).toJSDate().toISOString()).toBe('2030-12-01T08:00:00.000Z');
    expect(vevent.getFirstPropertyValue('summary')).toBe(event.title);
    expect(vevent.getFirstPropertyValue('description')).toBe(event.description);
    expect(vevent.getFirstPropertyValue('location')).toBe(event.venue);
    expect(vevent.getFirstPropertyValue('url')).toBe(event.url);
    expect(vevent.getFirstPropertyValue('status')).toBe('CONFIRMED');
    const organizer = vevent.getFirstProperty('organizer')!;
    expect(organizer.getFirstValue()).toBe('mailto:no-reply@epu.example');
    expect(organizer.getParameter('cn')).toBe('Hazel "the host" Hopper');
    const attendee = vevent.getFirstProperty('attendee')!;
    expect(attendee.getFirstValue()).toBe('mailto:ada@example.test');
    expect(attendee.getParameter('partstat')).toBe('ACCEPTED');
  });

  it('cancels the same entry with a higher SEQUENCE', () => {
    const { calendar, vevent } = parse(calendarFile('CANCEL', { ...event, sequence: 1, status: 'CANCELLED' }));
    expect(calendar.getFirstPropertyValue('method')).toBe('CANCEL');
    expect(vevent.getFirstPropertyValue('uid')).toBe(event.uid);
    expect(vevent.getFirstPropertyValue('sequence')).toBe(1);
    expect(vevent.getFirstPropertyValue('status')).toBe('CANCELLED');
    expect(vevent.getFirstProperty('attendee')!.getParameter('partstat')).toBe('DECLINED');
  });

  it('leaves out what an event does not have (an end, a venue, people) for a PUBLISH download', () => {
    const file = calendarFile('PUBLISH', { ...event, endsAt: null, venue: '', organizer: undefined, attendee: undefined });
    expect(file).not.toMatch(/^(DTEND|LOCATION|ORGANIZER|ATTENDEE)[:;]/m);
    expect(parse(file).calendar.getFirstPropertyValue('method')).toBe('PUBLISH');
  });

  it('writes UTC DATE-TIMEs', () => {
    expect(utcDateTime(new Date('2031-06-01T07:05:09.123Z'))).toBe('20310601T070509Z');
  });
});
