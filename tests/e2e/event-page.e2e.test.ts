// The event page in a browser, at desktop and phone sizes: adding it to a
// calendar, the venue's map, and what a shared link previews.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser } from '../support/browser.js';
import { Client, signUp } from '../support/client.js';
import { assertAccessible, DESKTOP, keepScreenshot, newContext, PHONE, sidewaysOverflow } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

let t: TestApp;
let browser: Browser;
beforeAll(async () => {
  t = await startTestApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

const SIZES = { desktop: DESKTOP, phone: PHONE } as const;

async function hostedEvent(fields: Record<string, unknown> = {}) {
  const host = await signUp(t.url, { name: 'Hazel Host' });
  const created = await host.client.post('/api/v1/events', {
    title: 'Rooftop party',
    description: 'Music and food.',
    venue: 'Alexanderplatz 1, Berlin',
    startsAt: '2031-01-10T17:00:00.000Z',
    endsAt: '2031-01-10T20:30:00.000Z',
    timeZone: 'Europe/Berlin',
    capacity: 20,
    visibility: 'public',
    ...fields,
  });
  expect(created.status).toBe(201);
  return { host, event: created.body as { id: string; slug: string } };
}

describe.skipIf(!tierCanRun('browser'))('the event page in a browser', () => {
  for (const [size, options] of Object.entries(SIZES)) {
    it(`${size}: adds the event to a calendar, links the venue to a map, and previews when shared`, async () => {
      const { event } = await hostedEvent();
      const context = await newContext(browser, { ...options, timezoneId: 'Europe/Berlin' });
      const page = await context.newPage();
      await page.goto(`${t.url}/events/${event.id}`);

      const when = await page.locator('.when').innerText();
      expect(when).toMatch(/Friday,? 10 January 2031, 18:00\s*–\s*21:30/);
      expect(when).toContain('3 hours 30 minutes');
      const map = page.getByRole('link', { name: 'Alexanderplatz 1, Berlin (map)' });
      expect(await map.getAttribute('href')).toBe('https://www.openstreetmap.org/search?query=Alexanderplatz+1%2C+Berlin');
      const google = new URL((await page.getByRole('link', { name: 'Google Calendar' }).getAttribute('href'))!);
      expect(google.searchParams.get('dates')).toBe('20310110T170000Z/20310110T203000Z');

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Calendar file (.ics)' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`${event.slug}.ics`);
      const file = fs.readFileSync((await download.path())!, 'utf8');
      expect(file).toContain('SUMMARY:Rooftop party');
      expect(file).toContain('DTSTART:20310110T170000Z');

      expect(await page.locator('meta[property="og:title"]').getAttribute('content')).toBe('Rooftop party');
      expect(await page.locator('meta[name="twitter:card"]').getAttribute('content')).toBe('summary');
      expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
      await keepScreenshot(page, `event-page-calendar-${size}`);
      await assertAccessible(page, 'the event page');
      await context.close();
    });
  }

  it('an unlisted event tells search engines to keep out', async () => {
    const { event } = await hostedEvent({ visibility: 'unlisted' });
    const context = await newContext(browser, DESKTOP);
    const page = await context.newPage();
    const response = await page.goto(`${t.url}/events/${event.id}`);
    expect(response!.headers()['x-robots-tag']).toBe('noindex');
    expect(await page.locator('meta[name="robots"]').getAttribute('content')).toBe('noindex');
    expect((await new Client(t.url).get(`/events/${event.id}/calendar.ics`)).headers.get('x-robots-tag')).toBe('noindex');
    await context.close();
  });
});
