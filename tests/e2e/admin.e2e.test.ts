// The admin pages as an admin reads them (issue 16, item 9): charts with axes,
// dates and values drawn as SVG on the server, the audit trail in names and
// links, and every section usable on a phone: no sideways scroll, tables as
// stacked rows, normal-size checkboxes; axe passes in both colour schemes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../support/app.js';
import { launchBrowser } from '../support/browser.js';
import { futureIso, signUp } from '../support/client.js';
import { assertAccessible, DESKTOP, keepScreenshot, PHONE, sidewaysOverflow, signedInContext } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

let t: TestApp;
let browser: Browser;
let admin: Awaited<ReturnType<typeof signUp>>;
let eventId: string;
beforeAll(async () => {
  t = await startTestApp();
  browser = await launchBrowser();
  admin = await signUp(t.url, { name: 'Ada Admin' });
  await t.services.accounts.setRole(admin.user.id, 'admin');
  await admin.client.post('/api/v1/auth/login', { email: admin.email, password: admin.password });

  // A few weeks of activity: sign-ups spread over past days, an event with a booking, flags, a failing job.
  const worker = startTestWorker(t);
  try {
    const host = await signUp(t.url, { name: 'Hana Host' });
    const created = await host.client.post('/api/v1/events', {
      title: 'Harbour picnic with a rather long title to wrap',
      startsAt: futureIso(3),
      capacity: 20,
      visibility: 'public',
    });
    eventId = created.body.id;
    const guests = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => signUp(t.url, { name: `Guest number ${i}` })));
    for (const guest of guests) await guest.client.post(`/api/v1/events/${eventId}/bookings`);
    for (const [i, guest] of guests.entries())
      await t.platform.pool.query(`UPDATE users SET created_at = now() - make_interval(days => $1) WHERE id = $2`, [
        3 * i + 2,
        guest.user.id,
      ]);
    for (const name of ['photos.uploads', 'events.invitations_with_a_long_name']) {
      await admin.client.request('PUT', `/api/v1/admin/flags/${name}`, {
        json: { enabled: true, rolloutPercentage: 40, description: 'A flag with a description long enough to wrap on a phone.' },
      });
    }
    await t.services.stats.aggregate();
    await t.services.integrity.run();
    const job = await t.platform.queue.enqueue('stats.aggregate', {}, { maxAttempts: 1 });
    await t.platform.pool.query(`UPDATE jobs SET status = 'dead', attempts = 1, last_error = $2 WHERE id = $1`, [
      job,
      `error: ${'a-very-long-unbroken-error-message-'.repeat(6)}`,
    ]);
    await eventually(
      async () => ((await t.platform.pool.query(`SELECT 1 FROM audit_log WHERE action = 'flag.update'`)).rowCount === 2 ? true : undefined),
      20_000,
      'the audit entries',
    );
  } finally {
    await worker.stop({ graceMs: 1000 });
  }
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

const SIZES = { desktop: DESKTOP, phone: PHONE } as const;

/** The widest box on the page wider than the viewport, if any: what a sideways scroll would come from. */
const widest = (page: Page) =>
  page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('main *')].filter((el) => el.getBoundingClientRect().right > width + 1);
    return wide.slice(0, 3).map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
  });

describe.skipIf(!tierCanRun('browser'))('the admin pages in a browser', () => {
  for (const [size, options] of Object.entries(SIZES)) {
    it(`${size}: charts with axes, the audit trail in names, every section fits, axe passes in light and dark`, async () => {
      for (const colorScheme of ['light', 'dark'] as const) {
        const context = await signedInContext(browser, t.url, admin.client, { ...options, colorScheme });
        const page = await context.newPage();
        await page.goto(`${t.url}/admin`);

        // Charts: an SVG per series, named by its summary, with values on the y axis and dates on the x axis.
        const chart = page.getByRole('img', { name: /^Sign-ups per day from .+: \d+ in all, at most \d+ in a day/ });
        await expect(chart.isVisible()).resolves.toBe(true);
        const ticks = await chart.locator('text.chart-tick').allTextContents();
        expect(ticks).toContain('0');
        expect(ticks.some((tick) => /^\d{1,2} [A-Z][a-z]{2}$/.test(tick))).toBe(true);
        expect(await chart.locator('text.chart-value').count()).toBeGreaterThan(0);
        // Drawn in the theme's colours: the bars in the accent colour, the text readable on the background.
        const colours = await chart.evaluate((svg) => ({
          bar: getComputedStyle(svg.querySelector('rect')!).fill,
          text: getComputedStyle(svg.querySelector('text.chart-value')!).fill,
          accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
        }));
        const hex = (rgb: string) =>
          `#${rgb
            .match(/\d+/g)!
            .slice(0, 3)
            .map((c) => Number(c).toString(16).padStart(2, '0'))
            .join('')}`;
        expect(hex(colours.bar)).toBe(colours.accent);
        const brightness =
          colours.text
            .match(/\d+/g)!
            .slice(0, 3)
            .map(Number)
            .reduce((a, b) => a + b, 0) / 3;
        expect(colorScheme === 'dark' ? brightness > 150 : brightness < 100).toBe(true);

        // The audit trail: names and links, not ids.
        const audit = page.locator('#audit-entries');
        await expect(audit.getByRole('link', { name: 'Hana Host' }).first().isVisible()).resolves.toBe(true);
        await expect(
          audit.getByRole('link', { name: 'Harbour picnic with a rather long title to wrap' }).first().getAttribute('href'),
        ).resolves.toBe(`/events/${eventId}`);
        await expect(audit.getByRole('link', { name: 'photos.uploads' }).first().getAttribute('href')).resolves.toBe(
          '/admin/flags#flag-photos-uploads',
        );

        expect(await widest(page)).toEqual([]);
        expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
        await keepScreenshot(page, `admin-${colorScheme}-${size}`);
        await assertAccessible(page, `admin page, ${colorScheme}, ${size}`);

        await page.goto(`${t.url}/admin/flags`);
        const checkbox = page.getByRole('form', { name: 'Settings of photos.uploads' }).getByLabel('Enabled');
        const box = (await checkbox.boundingBox())!;
        expect(box.width).toBeLessThanOrEqual(24);
        expect(box.height).toBeLessThanOrEqual(24);
        expect(await widest(page)).toEqual([]);
        expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
        await keepScreenshot(page, `admin-flags-${colorScheme}-${size}`);
        await assertAccessible(page, `flags page, ${colorScheme}, ${size}`);
        await context.close();
      }
    });
  }

  it('phone, without JavaScript: the charts are there, and a flag saves from its stacked row', async () => {
    const context = await signedInContext(browser, t.url, admin.client, { ...PHONE, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${t.url}/admin`);
    for (const series of ['Sign-ups', 'Bookings', 'Uploads']) {
      const box = (await page.getByRole('img', { name: new RegExp(`^${series} per day from`) }).boundingBox())!;
      expect(box.width).toBeGreaterThan(250);
      expect(box.x + box.width).toBeLessThanOrEqual(PHONE.viewport.width);
    }
    await page.goto(`${t.url}/admin/flags`);
    const form = page.getByRole('form', { name: 'Settings of photos.uploads' });
    await form.getByLabel('Rollout %').fill('70');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.waitForLoadState();
    expect((await admin.client.get('/api/v1/admin/flags/photos.uploads')).body.rolloutPercentage).toBe(70);
    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
    await context.close();
  });
});
