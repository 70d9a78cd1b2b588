// Dark mode follows the system setting (prefers-color-scheme), in CSS alone:
// the main pages at desktop and phone sizes, each with axe's contrast checks
// passing in the dark scheme (the other browser tests cover the light one).
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { useAppAndBrowser } from '../support/browser.js';
import { futureIso, signUp } from '../support/client.js';
import { assertAccessible, DESKTOP, keepScreenshot, newContext, PHONE, sidewaysOverflow, signedInContext } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

const e2e = useAppAndBrowser();

const SIZES = { desktop: DESKTOP, phone: PHONE } as const;

/** The page's background as [r, g, b]. */
const background = (page: Page) =>
  page.evaluate(() => getComputedStyle(document.body).backgroundColor.match(/\d+/g)!.slice(0, 3).map(Number));
const isDark = (rgb: number[]) => rgb.every((channel) => channel < 60);

describe.skipIf(!tierCanRun('browser'))('dark mode', () => {
  it('follows the system: light by default, dark when the system asks for it', async () => {
    const light = await newContext(e2e.browser, { ...DESKTOP, colorScheme: 'light' });
    const lightPage = await light.newPage();
    await lightPage.goto(`${e2e.app.url}/`);
    expect((await background(lightPage)).every((channel) => channel > 200)).toBe(true);
    await light.close();
    const dark = await newContext(e2e.browser, { ...DESKTOP, colorScheme: 'dark' });
    const darkPage = await dark.newPage();
    await darkPage.goto(`${e2e.app.url}/`);
    expect(isDark(await background(darkPage))).toBe(true);
    await dark.close();
  });

  for (const [size, options] of Object.entries(SIZES)) {
    it(`${size}: the main pages pass axe (contrast included) in the dark scheme`, async () => {
      const host = await signUp(e2e.app.url, { name: 'Hazel Host' });
      const created = await host.client.post('/api/v1/events', {
        title: 'Night market',
        description: 'Lanterns and food.',
        venue: 'Harbour',
        startsAt: futureIso(5),
        capacity: 1,
        visibility: 'unlisted',
      });
      const eventId = created.body.id as string;
      const guest = await signUp(e2e.app.url, { name: 'Gus Guest' });
      await guest.client.post(`/api/v1/events/${eventId}/bookings`);

      const anonymous = await newContext(e2e.browser, { ...options, colorScheme: 'dark' });
      const visitor = await anonymous.newPage();
      for (const [path, what] of [
        ['/', 'home'],
        [`/events/${eventId}`, 'event page, full'],
        ['/login', 'sign-in form'],
        ['/no/such/page', '404 page'],
      ] as const) {
        await visitor.goto(`${e2e.app.url}${path}`);
        expect(isDark(await background(visitor))).toBe(true);
        await assertAccessible(visitor, `dark ${what}`);
      }
      // A form's problems: the alert and the fields marked invalid.
      await visitor.goto(`${e2e.app.url}/login`);
      await visitor.getByLabel('Email').fill('nobody@example.test');
      await visitor.getByLabel('Password').fill('wrong password');
      await visitor.getByRole('button', { name: 'Sign in' }).click();
      await visitor.waitForLoadState();
      await assertAccessible(visitor, 'dark sign-in form with an error');
      await anonymous.close();

      const attendee = await signedInContext(e2e.browser, e2e.app.url, guest.client, { ...options, colorScheme: 'dark' });
      const page = await attendee.newPage();
      await page.goto(`${e2e.app.url}/events/${eventId}?notice=booked`);
      await keepScreenshot(page, `dark-event-page-${size}`);
      await assertAccessible(page, 'dark event page with a notice and badges');
      await page.goto(`${e2e.app.url}/events/${eventId}/cancel`);
      await assertAccessible(page, 'dark confirmation page');
      await page.goto(`${e2e.app.url}/me`);
      await assertAccessible(page, 'dark account page');
      await attendee.close();

      const hosting = await signedInContext(e2e.browser, e2e.app.url, host.client, { ...options, colorScheme: 'dark' });
      const form = await hosting.newPage();
      await form.goto(`${e2e.app.url}/events/new`);
      await form.getByLabel('Starts').fill('2020-03-01T18:00');
      expect(await form.getByText('This start is in the past.').isVisible()).toBe(true);
      expect(await sidewaysOverflow(form)).toBeLessThanOrEqual(0);
      await keepScreenshot(form, `dark-event-form-${size}`);
      await assertAccessible(form, 'dark new-event form with the past warning');
      await form.goto(`${e2e.app.url}/events/${eventId}`);
      await assertAccessible(form, 'dark event page for its host');
      await hosting.close();
    });
  }
});
