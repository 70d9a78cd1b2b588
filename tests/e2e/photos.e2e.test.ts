import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useAppAndBrowser } from '../support/browser.js';
import { tierCanRun } from '../support/tools.mjs';
import exifr from 'exifr';
import { futureIso, signUp } from '../support/client.js';
import { jpegWithExif, png } from '../support/images.js';

const e2e = useAppAndBrowser({ worker: true });

describe.skipIf(!tierCanRun('browser'))('photos in a browser', () => {
  it('uploads several photos at once with a progress bar each, then the thumbnails appear; the host exports the event', async () => {
    const host = await signUp(e2e.app.url, { email: 'photo-host@example.test', password: 'photo host pw', name: 'Photo Host' });
    const event = (
      await host.client.post('/api/v1/events', { title: 'Gallery night', startsAt: futureIso(), capacity: 20, visibility: 'public' })
    ).body;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'epu-e2e-photos-'));
    const files: string[] = [];
    for (let i = 0; i < 6; i++) {
      const file = path.join(dir, `photo-${i}.${i % 2 ? 'png' : 'jpg'}`);
      fs.writeFileSync(file, i % 2 ? await png(300 + i * 10, 200) : await jpegWithExif(800, 600 - i * 10));
      files.push(file);
    }

    const context = await e2e.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${e2e.app.url}/login?next=/events/${event.id}`);
    await page.getByLabel('Email').fill('photo-host@example.test');
    await page.getByLabel('Password').fill('photo host pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${e2e.app.url}/events/${event.id}`);

    await page.getByLabel('Add photos').setInputFiles(files);
    await page.getByRole('button', { name: 'Upload' }).click();
    await expect.poll(() => page.locator('[data-upload-list] li').count()).toBe(6);
    await expect.poll(() => page.locator('[data-gallery] img').count(), { timeout: 60_000 }).toBe(6);
    expect(await page.locator('[data-upload-list] li[data-state="done"]', { hasText: 'Done' }).count()).toBe(6);
    const loaded = await page
      .locator('[data-gallery] img')
      .evaluateAll((images) => images.every((img) => (img as HTMLImageElement).naturalWidth > 0));
    expect(loaded).toBe(true);

    // Without JavaScript the gallery renders server-side, with sizes set.
    await page.reload();
    expect(await page.locator('[data-gallery] img[width][height][loading="lazy"]').count()).toBe(6);

    await page.getByRole('button', { name: 'Export' }).click();
    await page.waitForURL(/\/me\?notice=export-requested/);
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('[data-exports] a', { hasText: 'Download zip' }).count();
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(1);
    await context.close();
  });

  it('shares where photos were taken only when the box is ticked, with and without JavaScript', async () => {
    const host = await signUp(e2e.app.url, { email: 'place-host@example.test', password: 'place host pw', name: 'Place Host' });
    const event = (
      await host.client.post('/api/v1/events', { title: 'Shared places', startsAt: futureIso(), capacity: 20, visibility: 'public' })
    ).body;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'epu-e2e-location-')), 'located.jpg');
    fs.writeFileSync(file, await jpegWithExif(400, 300));
    const position = async (url: string) =>
      (await exifr.parse(Buffer.from(await (await fetch(url)).arrayBuffer()), { gps: true }))?.GPSLatitude;
    const gallery = async () => (await host.client.get(`/api/v1/events/${event.id}/photos`)).body.items;
    let uploaded = 0;
    /** The one photo uploaded since the last call, once ready: whether it is shared, and the position its original gives. */
    async function newest() {
      uploaded += 1;
      await expect.poll(async () => (await gallery()).length, { timeout: 60_000, interval: 500 }).toBe(uploaded);
      const [photo] = await gallery();
      return [photo.locationShared, await position(photo.url)];
    }

    for (const javaScriptEnabled of [true, false]) {
      const context = await e2e.browser.newContext({ javaScriptEnabled });
      const page = await context.newPage();
      await page.goto(`${e2e.app.url}/login?next=/events/${event.id}`);
      await page.getByLabel('Email').fill('place-host@example.test');
      await page.getByLabel('Password').fill('place host pw');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${e2e.app.url}/events/${event.id}`);
      for (const share of [false, true]) {
        const box = page.getByLabel('Share where these photos were taken');
        expect(await box.isChecked(), 'unticked by default').toBe(false);
        if (share) await box.check();
        await page.getByLabel('Add photos').setInputFiles([file]);
        await page.getByRole('button', { name: 'Upload' }).click();
        if (!javaScriptEnabled) await page.waitForURL(/upload=uploaded/);
        expect(await newest(), `javaScript ${javaScriptEnabled}, shared ${share}`).toEqual([share, share ? [51, 30, 0] : undefined]);
        await page.goto(`${e2e.app.url}/events/${event.id}`);
      }
      await context.close();
    }
  });
});
