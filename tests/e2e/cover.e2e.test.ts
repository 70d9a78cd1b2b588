// An event's cover in a browser (issue 16, decision 0042): the host picks it in
// the photo viewer, with and without JavaScript (replacing one asks first), and
// it shows on the event's card, at a desktop and a phone size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, startTestWorker, type TestApp } from '../support/app.js';
import { launchBrowser } from '../support/browser.js';
import { Client, futureIso, signUp } from '../support/client.js';
import { seedGallery } from '../support/gallery.js';
import { assertAccessible, DESKTOP, keepScreenshot, newContext, PHONE, sidewaysOverflow, signedInContext } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

describe.skipIf(!tierCanRun('browser'))('event covers in a browser', () => {
  let t: TestApp;
  let worker: ReturnType<typeof startTestWorker>;
  let browser: Browser;
  let host: Awaited<ReturnType<typeof signUp>>;
  const events: { id: string; photos: string[] }[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    worker = startTestWorker(t);
    browser = await launchBrowser();
    host = await signUp(t.url, { name: 'Carla Cover', password: 'carla cover pw' });
    for (const [i, title] of ['Harbour lights', 'Rooftop cinema'].entries()) {
      const id = (
        await host.client.post('/api/v1/events', {
          title,
          venue: 'Hamburg',
          startsAt: futureIso(i + 1),
          capacity: 30,
          visibility: 'public',
        })
      ).body.id as string;
      events.push({ id, photos: await seedGallery(t, host.client, id, 2) });
    }
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.stop({ graceMs: 1000 });
    await t?.close();
  });

  const cover = async (eventId: string) => (await new Client(t.url).get(`/api/v1/events/${eventId}`)).body.cover;

  it('the host picks a cover in the viewer with JavaScript, and replaces another without it after confirming', async () => {
    const [withScript, withoutScript] = events as [(typeof events)[0], (typeof events)[0]];
    let context = await signedInContext(browser, t.url, host.client, DESKTOP);
    let page: Page = await context.newPage();
    await page.goto(`${t.url}/events/${withScript.id}/photos/${withScript.photos[0]}`);
    await page.getByRole('button', { name: 'Use as cover' }).click();
    await page.waitForURL(`${t.url}/events/${withScript.id}/photos/${withScript.photos[0]}`);
    expect(await page.getByRole('button', { name: 'Remove as cover' }).count()).toBe(1);
    await assertAccessible(page, 'viewer of the cover');
    expect(await cover(withScript.id)).toEqual({ photoId: withScript.photos[0] });
    await context.close();

    context = await signedInContext(browser, t.url, host.client, { ...PHONE, javaScriptEnabled: false });
    page = await context.newPage();
    await page.goto(`${t.url}/events/${withoutScript.id}/photos/${withoutScript.photos[0]}`);
    await page.getByRole('button', { name: 'Use as cover' }).click();
    await page.waitForURL(`${t.url}/events/${withoutScript.id}/photos/${withoutScript.photos[0]}`);
    await page.goto(`${t.url}/events/${withoutScript.id}/photos/${withoutScript.photos[1]}`);
    await page.getByRole('button', { name: 'Use as cover' }).click();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Replace the cover?');
    await assertAccessible(page, 'replace-the-cover confirmation');
    await keepScreenshot(page, 'cover-replace-confirm-phone');
    expect(await cover(withoutScript.id)).toEqual({ photoId: withoutScript.photos[0] });
    await page.getByRole('button', { name: 'Replace the cover' }).click();
    await page.waitForURL(`${t.url}/events/${withoutScript.id}/photos/${withoutScript.photos[1]}`);
    expect(await cover(withoutScript.id)).toEqual({ photoId: withoutScript.photos[1] });
    await context.close();
  }, 120_000);

  for (const [size, options] of Object.entries({ desktop: DESKTOP, phone: PHONE })) {
    it(`shows each cover on its event's card on a ${size}, whole-width, accessible`, async () => {
      const context = await newContext(browser, options);
      const page = await context.newPage();
      await page.goto(t.url);
      const covers = page.locator('.event-card img.event-cover');
      await expect.poll(() => covers.count()).toBe(2);
      await covers.evaluateAll((images) => Promise.all(images.map((img) => (img as HTMLImageElement).decode())));
      const shapes = await covers.evaluateAll((images) =>
        images.map((img) => {
          const image = img as HTMLImageElement;
          // Edge to edge inside the card's border.
          const card = image.closest('.event-card')!;
          return {
            loaded: image.naturalWidth > 0,
            ratio: image.clientWidth / image.clientHeight,
            fills: Math.abs(image.getBoundingClientRect().width - card.clientWidth) < 1,
          };
        }),
      );
      await keepScreenshot(page, `event-cards-with-covers-${size}`);
      for (const shape of shapes) {
        expect(shape.loaded).toBe(true);
        expect(shape.ratio).toBeCloseTo(16 / 9, 1);
        expect(shape.fills).toBe(true);
      }
      expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
      await assertAccessible(page, `home page with covers (${size})`);
      await context.close();
    }, 60_000);
  }
});
