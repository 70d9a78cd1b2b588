import { describe, expect, it } from 'vitest';
import { scheduleText, utcLabel } from './format.js';

describe('an event schedule as plain text (mail, calendar files)', () => {
  it("reads on the event's own clock, names the zone at that instant, and gives the end date only when it differs", () => {
    const winter = { startsAt: new Date('2031-01-10T17:00:00Z'), endsAt: new Date('2031-01-10T20:30:00Z'), timeZone: 'Europe/Berlin' };
    expect(scheduleText(winter)).toBe('Friday 10 January 2031, 18:00 – 21:30 Berlin time (GMT+1)');
    const summer = { startsAt: new Date('2031-07-04T22:00:00Z'), endsAt: new Date('2031-07-05T01:00:00Z'), timeZone: 'America/New_York' };
    expect(scheduleText(summer)).toBe('Friday 4 July 2031, 18:00 – 21:00 New York time (GMT-4)');
    const overnight = { startsAt: new Date('2031-07-04T20:00:00Z'), endsAt: new Date('2031-07-05T02:00:00Z'), timeZone: 'Europe/Berlin' };
    expect(scheduleText(overnight)).toBe('Friday 4 July 2031, 22:00 – Saturday 5 July 2031, 04:00 Berlin time (GMT+2)');
    expect(scheduleText({ startsAt: winter.startsAt, endsAt: null, timeZone: 'UTC' })).toBe('Friday 10 January 2031, 17:00 UTC');
  });
});

describe('a UTC moment as a label (gallery alt texts, the photo viewer)', () => {
  const withTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
  const dateOnly = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });

  it('reads exactly as Intl writes it, for any moment of the years 1000-9999', () => {
    const first = Date.UTC(1000, 0, 1);
    const last = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    // Evenly spread over the range, plus the edges and the months' turns.
    const moments = Array.from({ length: 5000 }, (_, i) => first + Math.floor(((last - first) * i) / 4999));
    for (let month = 0; month < 12; month++) moments.push(Date.UTC(2026, month, 1), Date.UTC(2026, month + 1, 1) - 1);
    for (const moment of moments) {
      const iso = new Date(moment).toISOString();
      expect(utcLabel(iso, true), iso).toBe(withTime.format(moment));
      expect(utcLabel(iso, false), iso).toBe(dateOnly.format(moment));
    }
    expect(utcLabel('2020-09-09T08:08:00.000Z', true)).toBe('9 Sept 2020, 08:08');
    expect(utcLabel('2031-01-10T17:00:00.000Z', false)).toBe('10 Jan 2031');
  });

  it('leaves other years to Intl', () => {
    for (const iso of [
      '0999-12-31T23:59:00.000Z',
      '0001-01-01T00:00:00.000Z',
      '+010000-01-01T00:00:00.000Z',
      '-000001-06-15T12:00:00.000Z',
    ]) {
      expect(utcLabel(iso, true), iso).toBe(withTime.format(new Date(iso)));
      expect(utcLabel(iso, false), iso).toBe(dateOnly.format(new Date(iso)));
    }
    expect(utcLabel('0999-12-31T23:59:00.000Z', true)).toBe('31 Dec 999, 23:59');
  });
});
