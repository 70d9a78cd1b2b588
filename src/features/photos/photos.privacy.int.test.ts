// What of a photo reaches whom (issue 13): private media is never stored by a
// shared cache.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, startTestApp, startTestWorker, type TestApp } from '../../../tests/support/app.js';
import { Client, futureIso, signUp } from '../../../tests/support/client.js';
import crypto from 'node:crypto';
import exifr from 'exifr';
import { readObject } from './photos.functions.js';
import sharp from 'sharp';
import { jpegWithExif, multipart, png } from '../../../tests/support/images.js';
import { startS3rver, type TestS3 } from '../../../tests/support/s3rver.js';

async function readyPhoto(client: Client, eventId: string, bytes: Buffer, type = 'image/png') {
  const { body, contentType } = multipart([['file', 'photo', type, bytes]]);
  const uploaded = await client.request('POST', `/api/v1/events/${eventId}/photos`, { body, headers: { 'content-type': contentType } });
  expect(uploaded.status).toBe(202);
  return eventually(
    async () => {
      const read = await client.get(`/api/v1/photos/${uploaded.body.photo.id}`);
      return read.body.status === 'ready' ? read.body : undefined;
    },
    30_000,
    'the photo to be ready',
  );
}

for (const driver of ['file', 's3'] as const) {
  describe(`private media with ${driver} storage`, () => {
    let t: TestApp;
    let s3: TestS3 | undefined;
    let worker: ReturnType<typeof startTestWorker>;

    beforeAll(async () => {
      let env: Record<string, string> = {};
      if (driver === 's3') {
        s3 = await startS3rver();
        vi.stubEnv('AWS_ACCESS_KEY_ID', s3.env.AWS_ACCESS_KEY_ID!);
        vi.stubEnv('AWS_SECRET_ACCESS_KEY', s3.env.AWS_SECRET_ACCESS_KEY!);
        env = s3.env;
      }
      t = await startTestApp(env);
      worker = startTestWorker(t);
    });
    afterAll(async () => {
      await worker?.stop({ graceMs: 1000 });
      await t?.close();
      await s3?.close();
      vi.unstubAllEnvs();
    });

    it('serves the thumbnails and display images of a private event as private: no shared cache may keep them', async () => {
      const owner = await signUp(t.url);
      const eventId: string = (
        await owner.client.post('/api/v1/events', { title: 'Private', startsAt: futureIso(), capacity: null, visibility: 'private' })
      ).body.id;
      const photo = await readyPhoto(owner.client, eventId, await png());
      for (const url of [photo.thumbnailUrl, photo.displayUrl, photo.url] as string[]) {
        const response = await fetch(url);
        expect(response.status).toBe(200);
        const cacheControl = response.headers.get('cache-control') ?? '';
        expect(cacheControl).toMatch(/\bprivate\b/);
        expect(cacheControl).not.toMatch(/\bpublic\b/);
      }
    });

    it('lets no one download where a photo was taken: the original keeps its picture and time taken, not its position', async () => {
      const owner = await signUp(t.url);
      const eventId: string = (
        await owner.client.post('/api/v1/events', { title: 'Located', startsAt: futureIso(), capacity: null, visibility: 'public' })
      ).body.id;
      const uploaded = await jpegWithExif(320, 240);
      const position = async (image: Buffer) => (await exifr.parse(image, { gps: true }))?.GPSLatitude;
      expect(await position(uploaded)).toEqual([51, 30, 0]);
      const photo = await readyPhoto(owner.client, eventId, uploaded, 'image/jpeg');
      // Anyone who sees the gallery gets the original's link; the uploader's viewer page offers the original too.
      const gallery = await new Client(t.url).get(`/api/v1/events/${eventId}/photos`);
      const viewerPage = await owner.client.request('GET', `/events/${eventId}/photos/${photo.id}`, { headers: { accept: 'text/html' } });
      const download = /<a[^>]+href="([^"]+)"[^>]*download/.exec(viewerPage.text)![1]!.replace(/&amp;/g, '&');
      expect(viewerPage.text).toContain('Download original');
      for (const url of [gallery.body.items[0].url, new URL(download, t.url).href] as string[]) {
        const original = Buffer.from(await (await fetch(url)).arrayBuffer());
        expect(await position(original)).toBeUndefined();
        expect(await exifr.parse(original, { pick: ['DateTimeOriginal'] })).toEqual({ DateTimeOriginal: new Date('2024-05-06T07:08:09Z') });
        expect((await sharp(original).metadata()).width).toBe(320);
      }
      expect(photo.takenAt).toBe('2024-05-06T07:08:09.000Z');
    });

    it('removes the position from originals stored before, with `epu jobs run photos.remove-location`', async () => {
      const owner = await signUp(t.url);
      const eventId: string = (
        await owner.client.post('/api/v1/events', { title: 'Stored before', startsAt: futureIso(), capacity: null, visibility: 'public' })
      ).body.id;
      const photo = await readyPhoto(owner.client, eventId, await png(), 'image/png');
      // As an earlier release stored it: the upload as it came, position and all.
      const { rows } = await t.platform.pool.query('SELECT original_key FROM photos WHERE id = $1', [photo.id]);
      const before = await jpegWithExif(320, 240);
      await t.platform.storage.put(rows[0].original_key, before, { contentType: 'image/jpeg' });
      await t.platform.pool.query(`UPDATE photos SET content_type = 'image/jpeg' WHERE id = $1`, [photo.id]);

      const job = await t.platform.queue.enqueue('photos.remove-location', {}, { maxAttempts: 1 });
      expect((await t.platform.queue.waitFor(job, { timeoutMs: 30_000 })).status).toBe('completed');
      const stored = await readObject(t.platform.storage, rows[0].original_key);
      expect((await exifr.parse(stored!, { gps: true }))?.GPSLatitude).toBeUndefined();
      expect((await sharp(stored!).raw().toBuffer()).equals(await sharp(before).raw().toBuffer())).toBe(true);
      const { rows: after } = await t.platform.pool.query('SELECT sha256, bytes FROM photos WHERE id = $1', [photo.id]);
      expect(after[0]).toEqual({ sha256: crypto.createHash('sha256').update(stored!).digest('hex'), bytes: stored!.length });
    });
  });
}
