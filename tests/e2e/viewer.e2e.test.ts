import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { startTestApp, startTestWorker, type TestApp } from '../support/app.js';
import { axeViolations, describeViolations } from '../support/axe.js';
import { launchBrowser } from '../support/browser.js';
import { futureIso, signUp } from '../support/client.js';
import { seedGallery, SHAPES } from '../support/gallery.js';
import { tierCanRun } from '../support/tools.mjs';

// The gallery and the photo viewer, at a desktop and a phone size, with and
// without JavaScript. 26 photos: one page of 24, then "More photos".
const SIZES: Record<string, BrowserContextOptions> = {
  desktop: { viewport: { width: 1280, height: 900 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 },
};
const PHOTOS = 26;
const ARTIFACTS = 'tests/e2e/.artifacts';

describe.skipIf(!tierCanRun('browser'))('gallery and photo viewer in a browser', () => {
  let t: TestApp;
  let worker: ReturnType<typeof startTestWorker>;
  let browser: Browser;
  let eventId: string;
  let photoIds: string[];
  let host: Awaited<ReturnType<typeof signUp>>;

  beforeAll(async () => {
    t = await startTestApp();
    worker = startTestWorker(t);
    browser = await launchBrowser();
    host = await signUp(t.url, { name: 'Greta Gallery', password: 'greta gallery pw' });
    const event = await host.client.post('/api/v1/events', {
      title: 'Midsummer picnic',
      description: 'Bring a blanket.',
      venue: 'Tempelhofer Feld',
      startsAt: futureIso(),
      capacity: 40,
      visibility: 'public',
    });
    eventId = event.body.id;
    photoIds = await seedGallery(t, host.client, eventId, PHOTOS);
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.stop({ graceMs: 1000 });
    await t?.close();
  });

  async function expectNoAxeViolations(page: Page): Promise<void> {
    const violations = await axeViolations(page);
    expect(violations, describeViolations(page.url(), violations)).toEqual([]);
  }

  /**
   * Opens the page with its pictures held back until it is laid out, then
   * sums the layout shifts while they load: what the gallery's CSS promises
   * (a tile's size never waits for its picture). Shifts while the page is
   * still being parsed are left out on purpose: on a starved CPU (CI builds
   * the image alongside; reproduced with the CDP's CPU throttling at 10x) the
   * browser paints a half-parsed gallery, whose justified rows then re-balance
   * as the rest of the tiles arrive.
   */
  async function shiftWhilePicturesLoad(page: Page, url: string): Promise<number> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/*', (route) =>
      route.request().resourceType() === 'image' ? held.then(() => route.continue()) : route.continue(),
    );
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.evaluate(async () => {
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const shifts = { total: 0 };
      (window as unknown as { shifts: typeof shifts }).shifts = shifts;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) shifts.total += (entry as unknown as { value: number }).value;
      }).observe({ type: 'layout-shift' });
    });
    release();
    await loadAllImages(page);
    await page.waitForLoadState('load');
    await page.unroute('**/*');
    return page.evaluate(
      () =>
        new Promise<number>((resolve) => setTimeout(() => resolve((window as unknown as { shifts: { total: number } }).shifts.total), 300)),
    );
  }

  async function loadAllImages(page: Page): Promise<void> {
    await page.evaluate(async () => {
      for (const img of document.querySelectorAll<HTMLImageElement>('[data-gallery] img')) img.loading = 'eager';
      await Promise.all(
        [...document.querySelectorAll<HTMLImageElement>('[data-gallery] img')].map((img) => img.decode().catch(() => undefined)),
      );
    });
  }

  for (const [size, options] of Object.entries(SIZES)) {
    describe(`gallery and viewer on a ${size}`, () => {
      it('keeps every photo whole at its shape, sharp at the screen density, without layout shift; one tab stop and a distinct name per photo', async () => {
        const context = await browser.newContext(options);
        const page = await context.newPage();
        expect(await shiftWhilePicturesLoad(page, `${t.url}/events/${eventId}`)).toBeLessThan(0.01);

        const tiles = await page.locator('[data-gallery] > li').evaluateAll(async (items) =>
          Promise.all(
            items.map(async (li) => {
              const img = li.querySelector('img')!;
              // naturalWidth of a srcset picture is scaled by its chosen density: load the file alone for its pixels.
              const file = new Image();
              file.src = img.currentSrc;
              await file.decode();
              const box = li.getBoundingClientRect();
              // Screen (CSS) px per image px: the picture covers its tile, or fits inside it when shown whole.
              const whole = li.getAttribute('data-fit') === 'whole';
              const scales = [img.clientWidth / file.naturalWidth, img.clientHeight / file.naturalHeight];
              return {
                id: li.id,
                tileRatio: box.width / box.height,
                whole,
                natural: { width: file.naturalWidth, height: file.naturalHeight },
                shown: { width: img.clientWidth, height: img.clientHeight },
                imagePixelsPerCssPixel: 1 / (whole ? Math.min(...scales) : Math.max(...scales)),
                src: img.currentSrc,
                alt: img.alt,
              };
            }),
          ),
        );
        expect(tiles).toHaveLength(24);
        const density = options.deviceScaleFactor ?? 1;
        for (const [i, tile] of tiles.entries()) {
          // Newest first: the tile i shows the photo uploaded (PHOTOS - 1 - i)th.
          const [width, height] = SHAPES[(PHOTOS - 1 - i) % SHAPES.length]!;
          const ratio = width / height;
          const naturalRatio = tile.natural.width / tile.natural.height;
          // The thumbnail is the whole photo (not cropped by the worker).
          expect(Math.abs(naturalRatio / ratio - 1), `${tile.id} thumbnail shape`).toBeLessThan(0.02);
          if (tile.whole) {
            // Beyond 4:1 the tile keeps 4:1 and shows the picture whole inside it.
            expect(ratio > 3.9 || ratio < 1 / 3.9).toBe(true);
          } else {
            expect(Math.abs(tile.tileRatio / ratio - 1), `${tile.id} tile shape`).toBeLessThan(0.06);
          }
          // Sharp: at least as many image pixels as device pixels.
          expect(tile.imagePixelsPerCssPixel, JSON.stringify(tile)).toBeGreaterThanOrEqual(density * 0.98);
        }
        expect(new Set(tiles.map((tile) => tile.alt)).size).toBe(tiles.length);
        expect(tiles[0]!.alt).toBe('Photo 1: by Greta Gallery, taken 6 May 2024, 18:25');

        // One tab stop per photo.
        const focusable = await page
          .locator('[data-gallery] a, [data-gallery] button, [data-gallery] [tabindex], [data-gallery] input')
          .count();
        expect(focusable).toBe(24);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow).toBeLessThanOrEqual(0);
        await page.locator('#gallery').scrollIntoViewIfNeeded();
        await page.screenshot({ path: `${ARTIFACTS}/gallery-${size}.png`, fullPage: size === 'phone' ? false : true });
        await expectNoAxeViolations(page);
        await context.close();
      });

      it('loads more photos in place, and without JavaScript the "More photos" link opens the next page', async () => {
        const context = await browser.newContext(options);
        const page = await context.newPage();
        await page.goto(`${t.url}/events/${eventId}`);
        await page.getByRole('link', { name: 'More photos' }).click();
        await expect.poll(() => page.locator('[data-gallery] > li').count()).toBe(PHOTOS);
        expect(page.url()).toBe(`${t.url}/events/${eventId}`);
        expect(await page.getByRole('link', { name: 'More photos' }).count()).toBe(0);
        // Focus moves to the first new photo, numbered on from the first page.
        expect(await page.evaluate(() => (document.activeElement?.querySelector('img') as HTMLImageElement | null)?.alt)).toMatch(
          /^Photo 25: /,
        );
        await context.close();

        const noScript = await browser.newContext({ ...options, javaScriptEnabled: false });
        const plain = await noScript.newPage();
        await plain.goto(`${t.url}/events/${eventId}`);
        await plain.getByRole('link', { name: 'More photos' }).click();
        await plain.waitForURL(/\?photos=.+&from=25#gallery$/);
        const alts = await plain.locator('[data-gallery] img').evaluateAll((images) => images.map((img) => (img as HTMLImageElement).alt));
        expect(alts).toHaveLength(2);
        expect(alts[0]).toMatch(/^Photo 25: /);
        await noScript.close();
      });

      it('opens a photo full screen at its own address: arrows and swipes step through, Esc and Back return to the gallery', async () => {
        const context = await browser.newContext(options);
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(`${t.url}/events/${eventId}`);
        await page.locator('[data-gallery] > li').nth(1).locator('a').click();
        await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 2]}`);
        expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(`Photo 2 of ${PHOTOS}`);
        expect(await page.locator('figcaption').textContent()).toContain('By Greta Gallery');
        expect(await page.locator('figcaption').textContent()).toContain('Taken 6 May 2024, 18:24');
        // Full screen: the photo takes the window, without the site's header.
        const stage = await page.locator('.viewer').boundingBox();
        expect(stage!.width).toBeGreaterThanOrEqual(options.viewport!.width - 1);
        expect(await page.locator('header.top').isVisible()).toBe(false);
        await page.locator('.viewer-stage img').evaluate((img: HTMLImageElement) => img.decode());
        await page.screenshot({ path: `${ARTIFACTS}/viewer-${size}.png` });
        await expectNoAxeViolations(page);

        if (size === 'phone') {
          // A real touch swipe, right to left: the next (older) photo.
          const cdp = await context.newCDPSession(page);
          const y = 400;
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: 320, y }] });
          for (const x of [260, 200, 140]) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y }] });
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
          await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 3]}`);
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: 80, y }] });
          for (const x of [140, 200, 260]) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y }] });
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
          await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 2]}`);
        }
        await page.keyboard.press('ArrowRight');
        await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 3]}`);
        expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(`Photo 3 of ${PHOTOS}`);
        // One step at a time: a second key pressed before the first navigation lands is pressed on the old page.
        await page.keyboard.press('ArrowLeft');
        await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 2]}`);
        await page.keyboard.press('ArrowLeft');
        await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 1]}`);
        // The first photo has no previous one; the key does nothing.
        await page.keyboard.press('ArrowLeft');
        expect(await page.locator('[data-viewer-prev]').count()).toBe(0);
        expect(page.url()).toBe(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 1]}`);
        await page.keyboard.press('Escape');
        await page.waitForURL(new RegExp(`/events/${eventId}(#.*)?$`));
        expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Midsummer picnic');

        // Shared address: opened directly, the viewer is there; Back returns to where the reader came from.
        await page.goto(`${t.url}/events/${eventId}`);
        await page.locator('[data-gallery] > li').first().locator('a').click();
        await page.waitForURL(/\/photos\//);
        await page.keyboard.press('ArrowRight');
        await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 2]}`);
        await page.goBack();
        await page.waitForURL(new RegExp(`/events/${eventId}$`));
        expect(errors).toEqual([]);
        await context.close();
      });

      it('works without JavaScript: previous, next and back are links', async () => {
        const context = await browser.newContext({ ...options, javaScriptEnabled: false });
        const page = await context.newPage();
        await page.goto(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 1]}`);
        await page.getByRole('link', { name: 'Next photo' }).click();
        await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 2]}`);
        await page.getByRole('link', { name: 'Previous photo' }).click();
        await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[PHOTOS - 1]}`);
        await page.getByRole('link', { name: /Back to Midsummer picnic/ }).click();
        await page.waitForURL(`${t.url}/events/${eventId}#photo-${photoIds[PHOTOS - 1]}`);
        await context.close();
      });
    });
  }

  describe('downloads from the viewer', () => {
    it('gives a visitor the display copy and the host the original, each under a readable file name', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${t.url}/events/${eventId}/photos/${photoIds[0]}`);
      const visitorLink = page.getByRole('link', { name: 'Download', exact: true });
      const [visitorDownload] = await Promise.all([page.waitForEvent('download'), visitorLink.click()]);
      expect(visitorDownload.suggestedFilename()).toBe('midsummer-picnic-20240506-180000.webp');

      await page.goto(`${t.url}/login?next=/events/${eventId}/photos/${photoIds[0]}`);
      await page.getByLabel('Email').fill(host.email);
      await page.getByLabel('Password').fill('greta gallery pw');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${t.url}/events/${eventId}/photos/${photoIds[0]}`);
      const [hostDownload] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download original' }).click(),
      ]);
      expect(hostDownload.suggestedFilename()).toBe('midsummer-picnic-20240506-180000.jpg');
      await context.close();
    });
  });
});
