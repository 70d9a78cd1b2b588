import { describe, expect, it } from 'vitest';
import { scheduleText } from './format.js';

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
