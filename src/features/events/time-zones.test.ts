import { describe, expect, it } from 'vitest';
import { fromZonedInput, normalizeTimeZone, offsetAt, toZonedInput } from './time-zones.js';

const instant = (value: string, zone: string) => {
  const read = fromZonedInput(value, zone);
  if (!read.ok) throw new Error(`not a wall time: ${value}`);
  return read;
};

describe('wall times on an event clock', () => {
  it('reads a typed time on the zone of the event, in winter and in summer', () => {
    expect(instant('2031-01-10T18:00', 'Europe/Berlin').instant.toISOString()).toBe('2031-01-10T17:00:00.000Z');
    expect(instant('2031-07-10T18:00', 'Europe/Berlin').instant.toISOString()).toBe('2031-07-10T16:00:00.000Z');
    expect(instant('2031-01-10T18:00', 'America/New_York').instant.toISOString()).toBe('2031-01-10T23:00:00.000Z');
    expect(instant('2031-07-10T18:00', 'America/New_York').instant.toISOString()).toBe('2031-07-10T22:00:00.000Z');
    expect(instant('2031-01-10T18:00', 'Asia/Kolkata').instant.toISOString()).toBe('2031-01-10T12:30:00.000Z');
    expect(instant('2031-01-10T18:00', 'UTC').instant.toISOString()).toBe('2031-01-10T18:00:00.000Z');
    expect(instant('2031-01-10T18:00:30', 'UTC').instant.toISOString()).toBe('2031-01-10T18:00:30.000Z');
  });

  it('shows an instant as the wall time of the zone', () => {
    expect(toZonedInput('2031-01-10T17:00:00Z', 'Europe/Berlin')).toBe('2031-01-10T18:00');
    expect(toZonedInput('2031-07-10T16:00:00Z', 'Europe/Berlin')).toBe('2031-07-10T18:00');
    expect(toZonedInput('2031-01-10T23:00:00Z', 'America/New_York')).toBe('2031-01-10T18:00');
    expect(toZonedInput('2031-01-10T12:30:00Z', 'Asia/Kolkata')).toBe('2031-01-10T18:00');
  });

  it('moves a time skipped by the spring jump forward by the gap, and flags it', () => {
    // Berlin, 30 March 2031: 02:00 becomes 03:00.
    const gap = instant('2031-03-30T02:30', 'Europe/Berlin');
    expect(gap).toEqual({ ok: true, instant: new Date('2031-03-30T01:30:00.000Z'), shifted: true });
    expect(toZonedInput(gap.instant, 'Europe/Berlin')).toBe('2031-03-30T03:30');
    // New York, 9 March 2031: 02:00 becomes 03:00.
    expect(instant('2031-03-09T02:15', 'America/New_York').instant.toISOString()).toBe('2031-03-09T07:15:00.000Z');
    expect(instant('2031-03-30T01:59', 'Europe/Berlin').shifted).toBe(false);
    expect(instant('2031-03-30T03:00', 'Europe/Berlin').instant.toISOString()).toBe('2031-03-30T01:00:00.000Z');
  });

  it('reads an hour repeated in autumn as its first occurrence', () => {
    // Berlin, 26 October 2031: 03:00 CEST goes back to 02:00 CET.
    expect(instant('2031-10-26T02:30', 'Europe/Berlin').instant.toISOString()).toBe('2031-10-26T00:30:00.000Z');
    expect(instant('2031-11-02T01:30', 'America/New_York').instant.toISOString()).toBe('2031-11-02T05:30:00.000Z');
  });

  it('refuses what is not a wall time', () => {
    for (const value of [
      '',
      'tomorrow',
      '2031-02-30T10:00',
      '2031-13-01T10:00',
      '2031-01-10T24:00',
      '2031-01-10 18:00',
      '2031-01-10T18:00Z',
    ]) {
      expect(fromZonedInput(value, 'Europe/Berlin'), value).toEqual({ ok: false });
    }
  });

  it('round-trips times across a year and every quarter hour around the clock changes, in zones with and without daylight saving', () => {
    const year = Date.UTC(2031, 0, 1);
    const days = (from: string) => Array.from({ length: 2 * 96 }, (_, i) => Date.parse(from) - 86_400_000 + i * 15 * 60_000);
    const samples = {
      'Europe/Berlin': [...days('2031-03-30T01:00Z'), ...days('2031-10-26T01:00Z')],
      'America/New_York': [...days('2031-03-09T07:00Z'), ...days('2031-11-02T06:00Z')],
      'Australia/Lord_Howe': [],
      'Asia/Kolkata': [],
      UTC: [],
    };
    for (const [zone, around] of Object.entries(samples)) {
      // Every 131 minutes over the year lands on every quarter hour of the day, through every season.
      const times = [...around, ...Array.from({ length: 4_020 }, (_, i) => year + i * 131 * 60_000)];
      for (const t of times) {
        const shown = toZonedInput(new Date(t), zone);
        const read = instant(shown, zone);
        expect(read.shifted).toBe(false);
        expect(toZonedInput(read.instant, zone)).toBe(shown);
        // The one exception: the second pass of an hour repeated in autumn reads as the first.
        if (read.instant.getTime() !== t) {
          expect(t - read.instant.getTime(), `${zone} ${shown}`).toBe(offsetAt(read.instant.getTime(), zone) - offsetAt(t, zone));
        }
      }
    }
  });
});

describe('time zone names', () => {
  it('takes IANA names, spelt as Intl lists them, and keeps valid aliases as given', () => {
    expect(normalizeTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(normalizeTimeZone('europe/berlin')).toBe('Europe/Berlin');
    expect(normalizeTimeZone('UTC')).toBe('UTC');
    expect(normalizeTimeZone('America/Argentina/Buenos_Aires')).toBe('America/Argentina/Buenos_Aires');
    expect(normalizeTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
    // An alias in the wrong case: Intl's own name for the zone (which ICU version decides).
    expect(['Asia/Kolkata', 'Asia/Calcutta']).toContain(normalizeTimeZone('asia/kolkata'));
  });

  it('refuses anything else', () => {
    for (const value of ['', 'Mars/Olympus_Mons', 'Europe/Berlin ', '../../etc/passwd', 'x'.repeat(65), '+01:00', 'CET; DROP TABLE']) {
      expect(normalizeTimeZone(value), value).toBeNull();
    }
  });
});
