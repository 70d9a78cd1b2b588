// Uploading photos (issue 16, item 7), at a desktop and a phone size: with
// JavaScript, files dropped on the form upload at once, each with a preview and
// its own status, a failed one failed in words with a Retry; without it, a
// batch keeps its good files and a page names the refused ones.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, startTestWorker, type TestApp } from '../support/app.js';
import { launchBrowser } from '../support/browser.js';
import { futureIso, signUp } from '../support/client.js';
import { heicFile, scenicJpeg } from '../support/images.js';
import { assertAccessible, DESKTOP, keepScreenshot, PHONE, sidewaysOverflow, signedInContext } from '../support/pages.js';
import { tierCanRun } from '../support/tools.mjs';

const HEIC_MESSAGE = 'HEIC photos are not supported on this server; export as JPEG';

/** Drops files on an element as a person dragging them from their desktop would (a real DataTransfer). */
async function dropFiles(page: Page, selector: string, files: { name: string; type: string; bytes: Buffer }[]): Promise<void> {
  const transfer = await page.evaluateHandle(
    (list) => {
      const data = new DataTransfer();
      for (const file of list)
        data.items.add(new File([Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0))], file.name, { type: file.type }));
      return data;
    },
    files.map((file) => ({ name: file.name, type: file.type, base64: file.bytes.toString('base64') })),
  );
  for (const type of ['dragenter', 'dragover', 'drop']) await page.dispatchEvent(selector, type, { dataTransfer: transfer });
}

describe.skipIf(!tierCanRun('browser'))('uploading photos in a browser', () => {
  let t: TestApp;
  let worker: ReturnType<typeof startTestWorker>;
  let browser: Browser;
  let host: Awaited<ReturnType<typeof signUp>>;
  let photo: Buffer;

  beforeAll(async () => {
    t = await startTestApp();
    worker = startTestWorker(t);
    browser = await launchBrowser();
    host = await signUp(t.url, { name: 'Uma Uploader', password: 'uma uploader pw' });
    photo = await scenicJpeg(900, 600, { hue: 200, takenAt: '2024:05:06 18:00:00' });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await worker?.stop({ graceMs: 1000 });
    await t?.close();
  });

  const newEvent = async (title: string) =>
    (await host.client.post('/api/v1/events', { title, startsAt: futureIso(), capacity: 20, visibility: 'public' })).body.id as string;

  for (const [size, options] of Object.entries({ desktop: DESKTOP, phone: PHONE })) {
    it(`on a ${size}: dropped files get a preview and a status each; a failed one says why and retries`, async () => {
      const eventId = await newEvent(`Drop party (${size})`);
      const context = await signedInContext(browser, t.url, host.client, options);
      const page = await context.newPage();
      // The first upload of the retried photo meets a network failure; its retry goes through.
      let cut = false;
      await page.route(`**/api/v1/events/${eventId}/photos`, async (route) => {
        if (!cut && route.request().postDataBuffer()?.includes('retried.jpg')) {
          cut = true;
          return route.abort('connectionreset');
        }
        return route.continue();
      });
      await page.goto(`${t.url}/events/${eventId}`);
      await expect.poll(() => page.locator('[data-drop-hint]').isVisible()).toBe(true);

      await dropFiles(page, '[data-drop-zone]', [
        { name: 'sunset.jpg', type: 'image/jpeg', bytes: photo },
        { name: 'notes.txt', type: 'text/plain', bytes: Buffer.from('not a photo') },
        { name: 'IMG_4242.HEIC', type: 'image/heic', bytes: heicFile() },
        { name: 'retried.jpg', type: 'image/jpeg', bytes: photo },
      ]);
      const item = (name: string) => page.locator('[data-upload-list] li', { hasText: name });
      await expect.poll(() => page.locator('[data-upload-list] li').count()).toBe(4);
      // Previews are the dropped files themselves.
      expect(await item('sunset.jpg').locator('img.upload-preview').getAttribute('src')).toMatch(/^blob:/);

      await expect.poll(() => item('notes.txt').getAttribute('data-state')).toBe('failed');
      expect(await item('notes.txt').locator('[data-upload-status]').textContent()).toBe(
        'Failed: Upload a JPEG, PNG, WebP, AVIF or GIF image.',
      );
      await expect.poll(() => item('IMG_4242.HEIC').getAttribute('data-state')).toBe('failed');
      expect(await item('IMG_4242.HEIC').locator('[data-upload-status]').textContent()).toContain(HEIC_MESSAGE);
      await expect.poll(() => item('retried.jpg').getAttribute('data-state')).toBe('failed');
      expect(await item('retried.jpg').locator('[data-upload-status]').textContent()).toBe('Failed: the connection failed');
      await expect.poll(() => item('sunset.jpg').getAttribute('data-state'), { timeout: 60_000 }).toBe('done');

      // Every failed file has its own Retry, named for it.
      expect(await page.getByRole('button', { name: 'Retry notes.txt' }).count()).toBe(1);
      await assertAccessible(page, `upload list with failures (${size})`);
      await keepScreenshot(page, `upload-failed-and-retry-${size}`);
      expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);

      await page.getByRole('button', { name: 'Retry retried.jpg' }).click();
      await expect.poll(() => item('retried.jpg').getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      expect(await item('retried.jpg').locator('[data-upload-retry]').count()).toBe(0);
      expect(await item('notes.txt').getAttribute('data-state')).toBe('failed');

      // The new photos are in the gallery without a reload, each a link to its viewer (where its actions are).
      await expect.poll(() => page.locator('[data-gallery] > li').count()).toBe(2);
      const href = await page.locator('[data-gallery] > li a').first().getAttribute('href');
      expect(href).toMatch(new RegExp(`^/events/${eventId}/photos/[0-9a-f-]{36}$`));
      await page.locator('[data-gallery] > li a').first().click();
      await page.waitForURL(`${t.url}${href}`);
      expect(await page.getByRole('link', { name: 'Delete', exact: true }).count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Use as cover' }).count()).toBe(1);
      await context.close();
    }, 120_000);

    it(`on a ${size}, without JavaScript: a batch keeps its good files, and the page says which files failed and why`, async () => {
      const eventId = await newEvent(`Batch night (${size})`);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-e2e-batch-'));
      const files = {
        good: path.join(dir, 'good.jpg'),
        text: path.join(dir, '<b onclick=x>notes.jpg'),
        heic: path.join(dir, 'IMG_0007.HEIC'),
      };
      fs.writeFileSync(files.good, photo);
      fs.writeFileSync(files.text, 'a text file with a photo’s name');
      fs.writeFileSync(files.heic, heicFile());
      const context = await signedInContext(browser, t.url, host.client, { ...options, javaScriptEnabled: false });
      const page = await context.newPage();
      await page.goto(`${t.url}/events/${eventId}`);
      await page.getByLabel('Add photos').setInputFiles(Object.values(files));
      await page.getByRole('button', { name: 'Upload' }).click();
      await page.waitForURL(`${t.url}/events/${eventId}/photos`);

      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('1 of 3 photos added');
      const alert = page.getByRole('alert');
      expect(await alert.locator('li').allTextContents()).toEqual([
        '<b onclick=x>notes.jpg: Upload a JPEG, PNG, WebP, AVIF or GIF image.',
        expect.stringContaining(`IMG_0007.HEIC: ${HEIC_MESSAGE}`),
      ]);
      // The message is in view as the page opens: nothing to scroll to.
      const box = (await alert.boundingBox())!;
      expect(box.y + box.height).toBeLessThanOrEqual(options.viewport.height);
      await assertAccessible(page, `upload results without JavaScript (${size})`);
      await keepScreenshot(page, `upload-results-no-js-${size}`);

      await page.getByRole('link', { name: 'Back to the photos' }).click();
      await page.waitForURL(`${t.url}/events/${eventId}#gallery`);
      const gallery = async () => (await host.client.get(`/api/v1/events/${eventId}/photos`)).body.items.length;
      await expect.poll(gallery, { timeout: 60_000, interval: 500 }).toBe(1);
      await context.close();
    }, 120_000);
  }
});
