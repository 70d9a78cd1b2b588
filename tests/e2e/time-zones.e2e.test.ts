// Event times in browsers set to different time zones, with and without
// JavaScript: what is typed is what is stored and shown, an untouched Save
// never moves the event, and readers elsewhere see their own time as well.
import { describe, expect, it } from 'vitest';
import { useAppAndBrowser } from '../support/browser.js';
import { signUp } from '../support/client.js';
import { assertAccessible, DESKTOP, keepScreenshot, newContext, PHONE, sidewaysOverflow, signedInContext } from '../support/pages.js';

const e2e = useAppAndBrowser();

// 18:00 to 21:30 on 10 January 2031 on each clock, as UTC instants.
const CASES = [
  { zone: 'Europe/Berlin', js: true, size: DESKTOP, starts: '2031-01-10T17:00:00.000Z', label: 'Berlin time (GMT+1)' },
  { zone: 'Europe/Berlin', js: false, size: PHONE, starts: '2031-01-10T17:00:00.000Z', label: 'Berlin time (GMT+1)' },
  { zone: 'America/New_York', js: true, size: PHONE, starts: '2031-01-10T23:00:00.000Z', label: 'New York time (GMT-5)' },
  { zone: 'America/New_York', js: false, size: DESKTOP, starts: '2031-01-10T23:00:00.000Z', label: 'New York time (GMT-5)' },
  { zone: 'Asia/Kolkata', js: true, size: DESKTOP, starts: '2031-01-10T12:30:00.000Z', label: 'time (GMT+5:30)' },
] as const;

describe('event times in a browser', () => {
  for (const c of CASES) {
    const name = `${c.zone.replace('/', '-')}-${c.js ? 'js' : 'nojs'}-${c.size === PHONE ? 'phone' : 'desktop'}`;
    it(`${c.zone}, ${c.js ? 'with' : 'without'} JavaScript, ${c.size === PHONE ? 'phone' : 'desktop'}: typed, stored, shown and saved untouched`, async () => {
      const host = await signUp(e2e.app.url, { name: `Host ${name}` });
      const context = await signedInContext(e2e.browser, e2e.app.url, host.client, {
        ...c.size,
        timezoneId: c.zone,
        javaScriptEnabled: c.js,
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
      page.on('pageerror', (error) => errors.push(error.message));

      await page.goto(`${e2e.app.url}/events/new`);
      const zoneSelect = page.getByLabel('Time zone');
      if (c.js) {
        // The script picks the browser's zone (Chromium may name Kolkata by its old name, Asia/Calcutta).
        const browserZone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
        expect(await zoneSelect.inputValue()).toBe(browserZone);
      } else {
        expect(await zoneSelect.inputValue()).toBe('UTC');
        await zoneSelect.selectOption(c.zone);
      }
      await page.getByLabel('Title').fill(`Party in ${c.zone}`);
      await page.getByLabel('Starts').fill('2031-01-10T18:00');
      await page.getByLabel('Ends').fill('2031-01-10T21:30');
      await keepScreenshot(page, `event-form-${name}`);
      await assertAccessible(page, 'the new-event form');
      await page.getByRole('button', { name: 'Create event' }).click();
      await page.waitForURL(/\/events\/[0-9a-f-]{36}$/);
      const id = page.url().split('/').pop()!;

      const stored = async () => (await host.client.get(`/api/v1/events/${id}`)).body;
      const created = await stored();
      expect(created).toMatchObject({ startsAt: c.starts, endsAt: new Date(Date.parse(c.starts) + 3.5 * 3_600_000).toISOString() });
      const when = page.locator('.when');
      expect(await when.innerText()).toMatch(/Friday,? 10 January 2031, 18:00\s*–\s*21:30/);
      expect(await when.innerText()).toContain(c.label);
      expect(await when.innerText()).toContain('3 hours 30 minutes');
      // The reader is on the event's clock: no second time.
      expect(await page.locator('p[data-viewer-time]').isVisible()).toBe(false);
      expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
      await keepScreenshot(page, `event-page-${name}`);
      await assertAccessible(page, 'the event page');

      // Untouched saves, twice: the event stays where it is.
      for (let save = 0; save < 2; save++) {
        await page.goto(`${e2e.app.url}/events/${id}/edit`);
        expect(await page.getByLabel('Starts').inputValue()).toBe('2031-01-10T18:00');
        expect(await page.getByLabel('Time zone').inputValue()).toBe(created.timeZone);
        await page.getByRole('button', { name: 'Save changes' }).click();
        await page.waitForURL(`${e2e.app.url}/events/${id}`);
      }
      expect(await stored()).toEqual(created);
      expect(errors, errors.join('\n')).toEqual([]);
      await context.close();
    });
  }

  it('an event made through the API at 18:00 Berlin time survives untouched saves from a UTC+1 browser', async () => {
    const host = await signUp(e2e.app.url);
    const { body: event } = await host.client.post('/api/v1/events', {
      title: 'Made by a script',
      startsAt: '2031-01-10T18:00:00+01:00',
      capacity: 10,
      visibility: 'public',
      timeZone: 'Europe/Berlin',
    });
    const context = await signedInContext(e2e.browser, e2e.app.url, host.client, { ...DESKTOP, timezoneId: 'Europe/Berlin' });
    const page = await context.newPage();
    for (let save = 0; save < 3; save++) {
      await page.goto(`${e2e.app.url}/events/${event.id}/edit`);
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.waitForURL(`${e2e.app.url}/events/${event.id}`);
    }
    expect((await host.client.get(`/api/v1/events/${event.id}`)).body.startsAt).toBe('2031-01-10T17:00:00.000Z');
    await context.close();
  });

  it('shows a reader in another zone the time on their own clock as well, with JavaScript', async () => {
    const host = await signUp(e2e.app.url);
    const { body: event } = await host.client.post('/api/v1/events', {
      title: 'Seen from New York',
      startsAt: '2031-07-10T18:00:00+02:00',
      endsAt: '2031-07-10T20:00:00+02:00',
      capacity: null,
      visibility: 'public',
      timeZone: 'Europe/Berlin',
    });
    for (const size of [DESKTOP, PHONE]) {
      const context = await newContext(e2e.browser, { ...size, timezoneId: 'America/New_York' });
      const page = await context.newPage();
      await page.goto(`${e2e.app.url}/events/${event.id}`);
      expect(await page.locator('.when').innerText()).toMatch(/Thursday,? 10 July 2031, 18:00\s*–\s*20:00\s*Berlin time \(GMT\+2\)/);
      const own = page.locator('p[data-viewer-time]');
      expect(await own.isVisible()).toBe(true);
      expect(await own.innerText()).toMatch(/^Your time \(New York\): Thursday,? 10 July 2031, 12:00 – 14:00$/);
      await page.goto(`${e2e.app.url}/`);
      const card = page.locator('.event-card', { hasText: 'Seen from New York' });
      expect(await card.locator('[data-viewer-time]').innerText()).toMatch(/^\(Thu 10 Jul, 12:00 your time\)$/);
      expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
      await keepScreenshot(page, `home-new-york-${size === PHONE ? 'phone' : 'desktop'}`);
      await assertAccessible(page, 'the home page');
      await context.close();
    }
  });
});
