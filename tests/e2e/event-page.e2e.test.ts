// The event page in a browser, at desktop and phone sizes: adding it to a
// calendar, the venue's map, what a shared link previews; destructive actions
// confirmed on their own page, with and without JavaScript; what the page
// offers its host and once the event is over; error pages of a signed-in reader.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useAppAndBrowser } from '../support/browser.js';
import { Client, signUp } from '../support/client.js';
import { assertAccessible, DESKTOP, keepScreenshot, newContext, PHONE, sidewaysOverflow, signedInContext } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

const e2e = useAppAndBrowser();

const SIZES = { desktop: DESKTOP, phone: PHONE } as const;

async function hostedEvent(fields: Record<string, unknown> = {}) {
  const host = await signUp(e2e.app.url, { name: 'Hazel Host' });
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
      const context = await newContext(e2e.browser, { ...options, timezoneId: 'Europe/Berlin' });
      const page = await context.newPage();
      await page.goto(`${e2e.app.url}/events/${event.id}`);

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
      const file = fs.readFileSync(await download.path(), 'utf8');
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
    const context = await newContext(e2e.browser, DESKTOP);
    const page = await context.newPage();
    const response = await page.goto(`${e2e.app.url}/events/${event.id}`);
    expect(response!.headers()['x-robots-tag']).toBe('noindex');
    expect(await page.locator('meta[name="robots"]').getAttribute('content')).toBe('noindex');
    expect((await new Client(e2e.app.url).get(`/events/${event.id}/calendar.ics`)).headers.get('x-robots-tag')).toBe('noindex');
    await context.close();
  });

  for (const [size, options] of Object.entries(SIZES)) {
    for (const js of [true, false]) {
      const variant = `${size}, ${js ? 'with' : 'without'} JavaScript`;
      it(`${variant}: cancelling a booking and deleting an event ask first; the host sees Manage`, async () => {
        const { host, event } = await hostedEvent();
        const guest = await signUp(e2e.app.url, { name: 'Gus Guest' });
        expect((await guest.client.post(`/api/v1/events/${event.id}/bookings`)).status).toBe(201);

        const guestContext = await signedInContext(e2e.browser, e2e.app.url, guest.client, { ...options, javaScriptEnabled: js });
        const page = await guestContext.newPage();
        await page.goto(`${e2e.app.url}/events/${event.id}`);
        await page.getByRole('link', { name: 'Cancel my booking' }).click();
        await page.waitForURL(`${e2e.app.url}/events/${event.id}/cancel`);
        expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Cancel your place at “Rooftop party”?');
        await keepScreenshot(page, `confirm-cancel-${size}-${js ? 'js' : 'nojs'}`);
        await assertAccessible(page, 'the cancel confirmation');
        // Keeping it changes nothing.
        await page.getByRole('link', { name: 'Keep my place' }).click();
        await page.waitForURL(`${e2e.app.url}/events/${event.id}`);
        expect(await page.getByText("You're going").isVisible()).toBe(true);
        await page.getByRole('link', { name: 'Cancel my booking' }).click();
        await page.getByRole('button', { name: 'Cancel my booking' }).click();
        await page.waitForURL(/notice=cancelled/);
        expect(await page.getByRole('button', { name: 'Book a place' }).isVisible()).toBe(true);
        await guestContext.close();

        const hostContext = await signedInContext(e2e.browser, e2e.app.url, host.client, { ...options, javaScriptEnabled: js });
        const own = await hostContext.newPage();
        await own.goto(`${e2e.app.url}/events/${event.id}`);
        expect(await own.getByRole('button', { name: 'Book a place' }).count()).toBe(0);
        expect(await own.getByRole('link', { name: 'Manage' }).getAttribute('href')).toBe(`/events/${event.id}/edit`);
        await own.getByRole('link', { name: 'Delete event' }).click();
        await own.waitForURL(`${e2e.app.url}/events/${event.id}/delete`);
        expect(await own.getByText('its 0 bookings and all its photos').isVisible()).toBe(true);
        expect(await sidewaysOverflow(own)).toBeLessThanOrEqual(0);
        await keepScreenshot(own, `confirm-delete-${size}-${js ? 'js' : 'nojs'}`);
        await assertAccessible(own, 'the delete confirmation');
        await own.getByRole('button', { name: 'Delete event' }).click();
        await own.waitForURL(`${e2e.app.url}/me?notice=event-deleted`);
        expect((await host.client.get(`/api/v1/events/${event.id}`)).status).toBe(404);

        // An error page keeps the signed-in menu.
        const missing = await own.goto(`${e2e.app.url}/events/${event.id}`);
        expect(missing!.status()).toBe(404);
        expect(await own.getByRole('link', { name: 'Hazel Host' }).isVisible()).toBe(true);
        expect(await own.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
        await assertAccessible(own, 'the signed-in 404 page');
        await hostContext.close();
      });
    }

    it(`${size}: an event that has ended offers no booking`, async () => {
      const { event } = await hostedEvent();
      await e2e.app.platform.pool.query(
        `UPDATE events SET starts_at = now() - interval '3 hours', ends_at = now() - interval '1 hour' WHERE id = $1`,
        [event.id],
      );
      await e2e.app.services.events.invalidate(event.id);
      const guest = await signUp(e2e.app.url);
      const context = await signedInContext(e2e.browser, e2e.app.url, guest.client, options);
      const page = await context.newPage();
      await page.goto(`${e2e.app.url}/events/${event.id}`);
      expect(await page.getByText('This event has ended').isVisible()).toBe(true);
      expect(await page.getByRole('button', { name: 'Book a place' }).count()).toBe(0);
      await keepScreenshot(page, `event-ended-${size}`);
      await assertAccessible(page, 'an ended event');
      await context.close();
    });
  }

  it('warns as a past start is typed in the new-event form', async () => {
    const host = await signUp(e2e.app.url);
    const context = await signedInContext(e2e.browser, e2e.app.url, host.client, DESKTOP);
    const page = await context.newPage();
    await page.goto(`${e2e.app.url}/events/new`);
    expect(await page.getByText('This start is in the past.').isVisible()).toBe(false);
    await page.getByLabel('Title').fill('Last year');
    await page.getByLabel('Starts').fill('2020-03-01T18:00');
    expect(await page.getByText('This start is in the past.').isVisible()).toBe(true);
    await assertAccessible(page, 'the form with the past warning');
    await page.getByRole('button', { name: 'Create event' }).click();
    // Not created until confirmed.
    await page.waitForLoadState();
    expect(page.url()).toBe(`${e2e.app.url}/events`);
    await page.getByLabel('Yes, the event is in the past').check();
    await page.getByRole('button', { name: 'Create event' }).click();
    await page.waitForURL(/\/events\/[0-9a-f-]{36}$/);
    expect(await page.getByText('This event has ended').isVisible()).toBe(true);
    await context.close();
  });
});
